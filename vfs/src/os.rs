//! The OS VFS (Unix).
pub(crate) mod shm;
