//! `flowpat`: graph patterns over network flow archives.
//!
//! The CLI owns argument parsing, file reading, progress and printing; the language lives in
//! `compiler` and the execution in `engine`. Exit codes: 0 ok, 1 findings (pattern diagnostics
//! from `check`, unformatted files from `fmt --check`, differences from `diff`), 2 usage,
//! 3 data or I/O error.

mod patterns;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  flowpat run patterns/ --flows archive/flows --events archive/events --networks networks.csv
  flowpat check patterns/
  flowpat explain patterns/ftp-exfiltration-temporal.pattern
  flowpat generate --rows 100000 --seed 1 --out sample";

#[derive(Parser)]
#[command(name = "flowpat", version, about = "Hunt threats in network flow data with graph patterns", after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum DiagFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Check pattern files and print every diagnostic (exit 1 if any error)
    #[command(after_help = "Examples:\n  flowpat check patterns/\n  flowpat check --format json my.pattern")]
    Check {
        /// Pattern files or folders
        #[arg(required = true)]
        patterns: Vec<PathBuf>,
        /// Diagnostic format
        #[arg(long, value_enum, default_value = "human")]
        format: DiagFormat,
        /// Override a parameter: NAME=VALUE (e.g. threshold=2MB)
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
    /// Show how patterns run: their rules and join plans
    #[command(after_help = "Example:\n  flowpat explain patterns/port-jumping.pattern")]
    Explain {
        /// Pattern files or folders
        #[arg(required = true)]
        patterns: Vec<PathBuf>,
        /// Override a parameter: NAME=VALUE
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
}

fn parse_params(params: &[String]) -> Result<Vec<(String, String)>> {
    params
        .iter()
        .map(|p| match p.split_once('=') {
            Some((n, v)) if !n.trim().is_empty() => Ok((n.trim().to_string(), v.trim().to_string())),
            _ => anyhow::bail!("--param takes NAME=VALUE, got `{p}`"),
        })
        .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check { patterns, format, params } => {
            let files = patterns::pattern_files(&patterns)?;
            let options = compiler::CompileOptions { params: parse_params(&params)? };
            let set = patterns::compile_files(&files, &options)?;
            match format {
                DiagFormat::Human => {
                    eprint!("{}", patterns::render_diagnostics(&set, patterns::color()));
                    let errors = set.diagnostics.iter().filter(|d| !d.is_warning()).count();
                    let warnings = set.diagnostics.len() - errors;
                    eprintln!("checked {} file(s): {} pattern(s) ok, {errors} error(s), {warnings} warning(s)", files.len(), set.patterns.len());
                }
                DiagFormat::Json => print!("{}", patterns::diagnostics_json(&set)),
            }
            Ok(if set.has_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Command::Explain { patterns, params } => {
            let files = patterns::pattern_files(&patterns)?;
            let options = compiler::CompileOptions { params: parse_params(&params)? };
            let set = patterns::compile_files(&files, &options)?;
            eprint!("{}", patterns::render_diagnostics(&set, patterns::color()));
            if set.has_errors() {
                return Ok(ExitCode::from(1));
            }
            let texts: Vec<String> = set.patterns.iter().map(|(_, c)| c.explain()).collect();
            print!("{}", texts.join("\n"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
