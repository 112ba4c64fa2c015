//! Runnable examples; see `examples/README.md` for the index. This library
//! holds what several of them share.

pub mod cluster;

use std::error::Error;
use std::future::Future;
use std::process::ExitCode;

/// An example's command line: `--flag` switches and `--flag VALUE`
/// options, in any order.
///
/// ```
/// let args = examples::Args::new(["--serve", "--rounds", "50"]);
/// assert!(args.has("--serve") && !args.help());
/// assert_eq!(args.value("--rounds").as_deref(), Some("50"));
/// assert_eq!(args.value("--listen"), None);
/// ```
#[derive(Debug)]
pub struct Args(Vec<String>);

impl Args {
    /// This process's arguments, the program's name left out.
    pub fn from_env() -> Self {
        Args(std::env::args().skip(1).collect())
    }

    /// The given arguments.
    pub fn new<S: Into<String>>(args: impl IntoIterator<Item = S>) -> Self {
        Args(args.into_iter().map(Into::into).collect())
    }

    /// Whether `name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }

    /// Whether help was asked for (`--help` or `-h`).
    pub fn help(&self) -> bool {
        self.has("--help") || self.has("-h")
    }

    /// The argument after `name`, if `name` was given.
    pub fn value(&self, name: &str) -> Option<String> {
        self.0.iter().position(|a| a == name).and_then(|i| self.0.get(i + 1)).cloned()
    }

    /// Whether no argument was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

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

/// An example's `main`: reads the command line, prints `usage` and stops
/// on `--help` or `-h` (when there is a usage text), otherwise runs `run` on
/// a multi-thread runtime, as `#[tokio::main]` would, and ends as [`exit`]
/// does.
pub fn main<F, Fut>(usage: Option<&str>, run: F) -> ExitCode
where
    F: FnOnce(Args) -> Fut,
    Fut: Future<Output = Result<(), Box<dyn Error>>>,
{
    let args = Args::from_env();
    if let Some(usage) = usage
        && args.help()
    {
        println!("{usage}");
        return ExitCode::SUCCESS;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    exit(runtime.block_on(run(args)))
}

/// The options an example parsed from its command line (`parsed`, whose
/// empty error means help was asked for): on help, prints `usage` and
/// gives `None`; on a bad command line, prints the error and `usage` and
/// exits with code 2.
pub fn options_or_usage<T>(name: &str, usage: &str, parsed: Result<T, String>) -> Option<T> {
    match parsed {
        Ok(options) => Some(options),
        Err(e) if e.is_empty() => {
            println!("{usage}");
            None
        }
        Err(e) => {
            eprintln!("{name}: {e}\n{usage}");
            std::process::exit(2);
        }
    }
}
