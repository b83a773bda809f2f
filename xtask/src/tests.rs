//! Tests of xtask's command line.

use super::{parse_args, Command, MANUAL_PREEMPTIONS};

fn parse(args: &[&str]) -> Result<Command, String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    parse_args(&args)
}

#[test]
fn commands_parse() {
    assert_eq!(parse(&["ci"]), Ok(Command::Ci));
    assert_eq!(parse(&["tidy"]), Ok(Command::Tidy));
    assert_eq!(parse(&["help"]), Ok(Command::Help));
    assert_eq!(parse(&["--help"]), Ok(Command::Help));
}

#[test]
fn loom_takes_preemptions_and_test_args() {
    let default = Command::Loom { preemptions: MANUAL_PREEMPTIONS, test_args: vec![] };
    assert_eq!(parse(&["loom"]), Ok(default));
    assert_eq!(
        parse(&["loom", "--preemptions", "5", "--", "header", "--nocapture"]),
        Ok(Command::Loom {
            preemptions: 5,
            test_args: vec!["header".to_string(), "--nocapture".to_string()]
        })
    );
    assert_eq!(
        parse(&["loom", "--preemptions=1"]),
        Ok(Command::Loom { preemptions: 1, test_args: vec![] })
    );
}

#[test]
fn mistakes_are_errors() {
    assert!(parse(&[]).is_err());
    assert!(parse(&["bogus"]).is_err());
    assert!(parse(&["ci", "--fast"]).is_err());
    assert!(parse(&["loom", "--preemptions"]).is_err());
    assert!(parse(&["loom", "--preemptions", "two"]).is_err());
    assert!(parse(&["loom", "header"]).is_err());
    assert_eq!(parse(&["bench"]), Ok(Command::Bench(vec![])));
    assert_eq!(parse(&["bench", "--", "commit"]), Ok(Command::Bench(vec!["commit".into()])));
    assert!(parse(&["bench", "commit"]).is_err());
    assert!(parse(&["fuzz", "--time", "soon"]).is_err());
}

#[test]
fn workspace_root_holds_the_virtual_manifest() {
    let manifest = std::fs::read_to_string(super::workspace_root().join("Cargo.toml")).unwrap();
    assert!(manifest.contains("[workspace]"));
}
