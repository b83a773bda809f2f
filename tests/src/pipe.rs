//! Reading a child process's pipes on helper threads, so the test thread waits on a channel
//! with a timeout (`recv_timeout`) instead of blocking on a read that may never finish.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{self, Receiver};
use std::thread;

/// Sends each line of `stream` (without its newline) as it arrives; the channel disconnects at
/// end of file, which is how the receiver learns that the child closed the pipe (or died).
pub(crate) fn lines(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if buf.last() == Some(&b'\n') {
                        buf.pop();
                    }
                    if tx.send(String::from_utf8_lossy(&buf).into_owned()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// Sends everything `stream` carries, once, at end of file.
pub(crate) fn all(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut stream = stream;
        let mut buf = Vec::new();
        // A read error ends the capture early; whatever arrived is still worth reporting.
        let _ = stream.read_to_end(&mut buf);
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}
