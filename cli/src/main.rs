//! The `folio` binary; everything is in the folio-cli library ([`folio_cli::main_with`]).

fn main() -> std::process::ExitCode {
    folio_cli::main_with(std::env::args_os())
}
