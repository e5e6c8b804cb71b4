use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = banter_bench::Cli::parse();
    match banter_bench::run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("banter-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}
