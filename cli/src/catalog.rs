//! `flowpat catalog`: what each pattern is for, who owns it, who may run it and when, and —
//! given an archive — how many results it will give and how long it will take.
//!
//! Metadata comes from each pattern's `meta … end` block as written. Estimates need an archive
//! (or `--sample`); without one their columns are `-` and stderr says why. They come from
//! `engine::estimate`: the plans run on a deterministic sample of the archive and the counts
//! are scaled by how the sample was drawn, so the catalog costs a small part of a full run.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use engine::estimate::{Estimate, EstimateOptions};

use crate::patterns;
use crate::run::{self, RunArgs, Setup};

/// Output formats of `catalog`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum CatalogFormat {
    /// Aligned table
    Table,
    /// CSV with a header row
    Csv,
    /// One JSON object per pattern
    Jsonl,
}

/// One catalog line.
struct Entry {
    name: String,
    file: String,
    description: String,
    author: String,
    access: String,
    schedule: String,
    estimate: Option<Estimate>,
}

/// The estimated count as people read it: exact counts as they are, others to two
/// significant digits with `~`.
pub fn results_text(estimate: &Estimate) -> String {
    let n = estimate.results.round() as u64;
    if estimate.exact {
        return n.to_string();
    }
    let digits = n.checked_ilog10().unwrap_or(0);
    let unit = 10u64.pow(digits.saturating_sub(1));
    format!("~{}", (n + unit / 2) / unit * unit)
}

/// A duration as people read it (`~0.4s`, `~12s`, `~3m 05s`).
pub fn runtime_text(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("~{s:.1}s")
    } else if s < 120.0 {
        format!("~{s:.0}s")
    } else {
        let whole = s.round() as u64;
        format!("~{}m {:02}s", whole / 60, whole % 60)
    }
}

/// Lists the patterns of `args.patterns`; with an archive (given, from `flowpat.toml` or
/// `--sample`), estimates each one on it.
pub fn catalog(mut args: RunArgs, format: CatalogFormat) -> Result<ExitCode> {
    let with_data = !args.flows.is_empty() || args.sample;
    let (compiled, estimates) = if with_data {
        let Some(Setup {
            compiled, inputs, ..
        }) = run::setup(&mut args)?
        else {
            return Ok(ExitCode::from(1));
        };
        let plans: Vec<compiler::plan::JoinPlan> = compiled
            .patterns
            .iter()
            .map(|(_, c)| c.plan.clone())
            .collect();
        let scratch = tempfile::tempdir().context("creating a folder for the sample")?;
        let options = EstimateOptions {
            workers: args.workers,
            ..EstimateOptions::default()
        };
        let started = std::time::Instant::now();
        let estimates = engine::estimate::estimate(&plans, &inputs, &options, scratch.path())
            .context("estimating on a sample of the archive")?;
        if !args.quiet {
            eprintln!(
                "estimated {} pattern(s) from samples of the archive in {:.2}s",
                estimates.len(),
                started.elapsed().as_secs_f64()
            );
        }
        (compiled, estimates.into_iter().map(Some).collect())
    } else {
        let files = patterns::pattern_files(&args.patterns)?;
        let options = compiler::CompileOptions {
            params: args.params.clone(),
        };
        let compiled = patterns::compile_files(&files, &options)?;
        eprint!(
            "{}",
            patterns::render_diagnostics(&compiled, patterns::color())
        );
        if !args.quiet {
            eprintln!(
                "no archive given: estimated results and runtime need one (--flows, --events and \
                 --networks, or --sample); those columns are left as `-`"
            );
        }
        let none: Vec<Option<Estimate>> = vec![None; compiled.patterns.len()];
        (compiled, none)
    };

    let entries: Vec<Entry> = compiled
        .patterns
        .iter()
        .zip(estimates)
        .map(|((file, c), estimate)| {
            let meta = |key: &str| c.pattern.meta.get(key).unwrap_or("").to_string();
            Entry {
                name: c.pattern.name.clone(),
                file: file.display().to_string(),
                description: meta("description"),
                author: meta("author"),
                access: meta("access"),
                schedule: meta("schedule"),
                estimate,
            }
        })
        .collect();
    print(&entries, format)?;
    Ok(if compiled.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print(entries: &[Entry], format: CatalogFormat) -> Result<()> {
    use std::io::Write;
    let mut out = crate::output::stdout();
    match format {
        CatalogFormat::Table => {
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::UTF8_HORIZONTAL_ONLY);
            // Long descriptions wrap to the terminal's width (and run on in a pipe).
            table.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
            table.set_header([
                "Name",
                "Description",
                "Author",
                "Estimated Results",
                "Estimated Runtime",
                "Access",
                "Scheduled",
            ]);
            let safe = |s: &str| crate::output::terminal_safe(s).into_owned();
            for e in entries {
                table.add_row([
                    safe(&e.name),
                    safe(&e.description),
                    safe(&e.author),
                    e.estimate
                        .as_ref()
                        .map(results_text)
                        .unwrap_or_else(|| "-".into()),
                    e.estimate
                        .as_ref()
                        .map(|x| runtime_text(x.runtime))
                        .unwrap_or_else(|| "-".into()),
                    safe(&e.access),
                    safe(&e.schedule),
                ]);
            }
            writeln!(out, "{table}")?;
        }
        CatalogFormat::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record([
                "name",
                "description",
                "author",
                "estimated_results",
                "estimated_runtime_seconds",
                "access",
                "scheduled",
                "file",
                "exact",
                "sample_results",
                "sampling",
            ])?;
            for e in entries {
                let est = e.estimate.as_ref();
                csv.write_record([
                    e.name.clone(),
                    e.description.clone(),
                    e.author.clone(),
                    est.map(|x| format!("{:.0}", x.results)).unwrap_or_default(),
                    est.map(|x| format!("{:.3}", x.runtime.as_secs_f64()))
                        .unwrap_or_default(),
                    e.access.clone(),
                    e.schedule.clone(),
                    e.file.clone(),
                    est.map(|x| x.exact.to_string()).unwrap_or_default(),
                    est.map(|x| x.sample_results.to_string())
                        .unwrap_or_default(),
                    est.map(|x| x.method.to_string()).unwrap_or_default(),
                ])?;
            }
            csv.flush()?;
        }
        CatalogFormat::Jsonl => {
            for e in entries {
                let est = e.estimate.as_ref();
                let v = serde_json::json!({
                    "name": e.name,
                    "description": e.description,
                    "author": e.author,
                    "estimated_results": est.map(|x| x.results.round() as u64),
                    "estimated_runtime_seconds": est.map(|x| x.runtime.as_secs_f64()),
                    "access": e.access,
                    "scheduled": e.schedule,
                    "file": e.file,
                    "exact": est.map(|x| x.exact),
                    "sample_results": est.map(|x| x.sample_results),
                    "sampling": est.map(|x| x.method.to_string()),
                });
                writeln!(out, "{v}")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(results: f64, exact: bool) -> Estimate {
        Estimate {
            pattern: "p".into(),
            results,
            runtime: Duration::from_secs(1),
            sample_results: 0,
            scale: 1.0,
            exact,
            method: engine::estimate::Method::Rows,
            rows_sampled: 0,
            rows_total: 0,
        }
    }

    #[test]
    fn counts_and_times_read_well() {
        assert_eq!(results_text(&est(4060.0, true)), "4060");
        assert_eq!(results_text(&est(4060.0, false)), "~4100");
        assert_eq!(results_text(&est(7.4, false)), "~7");
        assert_eq!(results_text(&est(0.0, false)), "~0");
        assert_eq!(results_text(&est(112_668.0, false)), "~110000");
        assert_eq!(runtime_text(Duration::from_millis(420)), "~0.4s");
        assert_eq!(runtime_text(Duration::from_secs(185)), "~3m 05s");
    }
}
