//! Unit tests of shm regions and slot arbitration.
