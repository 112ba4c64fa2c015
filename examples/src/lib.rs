//! Runnable examples; see `examples/README.md` for the index. This library
//! holds what several of them share.

pub mod cluster;

use std::error::Error;
use std::process::ExitCode;

/// Ends an example's `main`: on an error, prints it the way a person reads
/// it (its message, then each cause), not its `Debug` form, and exits with
/// a failure code.
///
/// ```
/// use std::process::ExitCode;
///
/// async fn run() -> Result<(), std::io::Error> {
///     Err(std::io::Error::other("address 127.0.0.1:7400 is in use"))
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // In an example: `#[tokio::main] async fn main() -> ExitCode { examples::exit(run().await) }`
/// assert_eq!(examples::exit(run().await), ExitCode::FAILURE); // prints "error: address 127.0.0.1:7400 is in use"
/// # }
/// ```
pub fn exit<E: Into<Box<dyn Error>>>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let err = err.into();
            eprintln!("error: {err}");
            let mut cause = err.source();
            while let Some(inner) = cause {
                eprintln!("  caused by: {inner}");
                cause = inner.source();
            }
            ExitCode::FAILURE
        }
    }
}
