//! Tests of the shared format rules: the page- and sector-size ranges and the sidecar names.

use super::*;

#[test]
fn page_sizes_are_powers_of_two_from_512_to_65536() {
    for shift in 9..=16 {
        assert!(valid_page_size(1 << shift), "{}", 1u32 << shift);
    }
    for bad in [0, 1, 256, 768, 4095, 4097, 131_072, u32::MAX, 1 << 31] {
        assert!(!valid_page_size(bad), "{bad}");
    }
}

#[test]
fn sector_sizes_are_powers_of_two_from_32_to_65536() {
    for shift in 5..=16 {
        assert!(valid_sector_size(1 << shift), "{}", 1u32 << shift);
    }
    for bad in [0, 1, 16, 48, 131_072, u32::MAX] {
        assert!(!valid_sector_size(bad), "{bad}");
    }
}

#[test]
fn sidecars_append_their_suffix_and_strip_it_back() {
    let db = Path::new("/dir/test.db");
    let cases = [
        (Sidecar::Journal, "/dir/test.db-journal"),
        (Sidecar::Wal, "/dir/test.db-wal"),
        (Sidecar::Shm, "/dir/test.db-shm"),
    ];
    for (sidecar, expected) in cases {
        let path = sidecar.path_of(db);
        assert_eq!(path, Path::new(expected));
        assert_eq!(sidecar.database_of(&path).as_deref(), Some(db));
    }
    assert_eq!(Sidecar::Wal.database_of(Path::new("/dir/test.db-journal")), None);
    // The suffix goes on the last component as it is: no extension logic, a trailing dot kept.
    assert_eq!(Sidecar::Wal.path_of(Path::new("a.")), Path::new("a.-wal"));
}

#[cfg(unix)]
#[test]
fn sidecar_names_keep_non_utf8_bytes() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let db = Path::new(OsStr::from_bytes(b"/d/\xff.db"));
    assert_eq!(Sidecar::Shm.path_of(db).as_os_str().as_bytes(), b"/d/\xff.db-shm");
}

#[test]
fn the_sector_size_in_use_is_sqlites_clamp_of_the_reported_one() {
    for (reported, used) in [(0, 512), (16, 512), (31, 512), (32, 32), (64, 64), (512, 512)] {
        assert_eq!(sector_size_in_use(reported), used, "{reported}");
    }
    for (reported, used) in [(4096, 4096), (65536, 65536), (65537, 65536), (u32::MAX, 65536)] {
        assert_eq!(sector_size_in_use(reported), used, "{reported}");
    }
}
