//! `amorsize chunks`: a chunk-shape recommendation for an n-dimensional array, with its reasons.
//!
//! All arithmetic lives in `amorsize::array::ChunkSizeRecommender`; this file parses and prints.
//! Every value is parsed here (not by clap) so that bad input gives one line and exit status 255.

use amorsize::array::ChunkSizeRecommender;
use amorsize::Error;

use crate::output;

/// Arguments of `amorsize chunks` (boxed, so the subcommand enum stays small).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    inner: Box<Inner>,
}

#[derive(Debug, clap::Args)]
struct Inner {
    /// Array shape, comma-separated (e.g. 50000,50000); a zero-length axis (0,5) is an empty
    /// array, whose chunks are those of one slice of it.
    #[arg(long)]
    shape: String,
    /// Element type: f64, f32, f16, i64, i32, i16, i8, u64, u32, u16, u8, bool, c64, c128
    /// (or a size in bytes).
    #[arg(long, default_value = "f64")]
    dtype: String,
    /// Share of available memory the array work may use, in (0, 1].
    #[arg(long)]
    memory_fraction: Option<String>,
    /// Safety factor in (0, 1].
    #[arg(long)]
    safety_factor: Option<String>,
    /// Workers that run chunks at once (default: effective cores).
    #[arg(long)]
    workers: Option<String>,
    /// Chunks queued beyond the workers.
    #[arg(long)]
    queued: Option<String>,
    /// Storage chunks to align with, comma-separated (e.g. 1000,1000).
    #[arg(long)]
    previous: Option<String>,
    /// An explicit working-memory budget (bytes, or with K/M/G suffix) instead of the machine's.
    #[arg(long)]
    budget: Option<String>,
    /// Smallest chunk (bytes, or with K/M/G suffix).
    #[arg(long)]
    min_chunk_bytes: Option<String>,
    /// Working set (input + peak) a chunk aims at (bytes, or with K/M/G suffix; 0: as large as
    /// the budget allows).
    #[arg(long)]
    working_set: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn dtype_size(d: &str) -> Result<usize, Error> {
    let size = match d.trim().to_ascii_lowercase().as_str() {
        "f64" | "float64" | "i64" | "int64" | "u64" | "uint64" | "c64" | "complex64" => 8,
        "f32" | "float32" | "i32" | "int32" | "u32" | "uint32" => 4,
        "f16" | "float16" | "i16" | "int16" | "u16" | "uint16" => 2,
        "i8" | "int8" | "u8" | "uint8" | "bool" => 1,
        "c128" | "complex128" => 16,
        other => other
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                Error::invalid_input("--dtype", format!("unknown element type `{d}`"))
            })?,
    };
    Ok(size)
}

/// A comma-separated list of integers, non-empty; zeros only with `allow_zero` (an array's shape
/// may have a zero-length axis, a chunk shape may not).
fn parse_list(flag: &str, s: &str, allow_zero: bool) -> Result<Vec<usize>, Error> {
    let v: Result<Vec<usize>, _> = s.split(',').map(|p| p.trim().parse::<usize>()).collect();
    let v = v.map_err(|_| {
        Error::invalid_input(
            flag,
            format!("`{s}` is not a comma-separated list of integers"),
        )
    })?;
    if !allow_zero && v.contains(&0) {
        return Err(Error::invalid_input(
            flag,
            format!("`{s}` must be non-empty with no zero"),
        ));
    }
    Ok(v)
}

fn parse_f64(flag: &str, s: &str) -> Result<f64, Error> {
    s.trim()
        .parse()
        .map_err(|_| Error::invalid_input(flag, format!("`{s}` is not a number")))
}

fn parse_usize(flag: &str, s: &str) -> Result<usize, Error> {
    s.trim()
        .parse()
        .map_err(|_| Error::invalid_input(flag, format!("`{s}` is not a whole number")))
}

fn run(args: &Inner) -> Result<String, Error> {
    let shape = parse_list("--shape", &args.shape, true)?;
    let es = dtype_size(&args.dtype)?;
    let mut rec = ChunkSizeRecommender::new();
    if let Some(f) = &args.memory_fraction {
        rec = rec.target_memory_fraction(parse_f64("--memory-fraction", f)?);
    }
    if let Some(f) = &args.safety_factor {
        rec = rec.safety_factor(parse_f64("--safety-factor", f)?);
    }
    if let Some(w) = &args.workers {
        rec = rec.workers(parse_usize("--workers", w)?);
    }
    if let Some(q) = &args.queued {
        rec = rec.queued(parse_usize("--queued", q)?);
    }
    if let Some(p) = &args.previous {
        rec = rec.previous_chunks(&parse_list("--previous", p, false)?);
    }
    if let Some(b) = &args.budget {
        rec = rec.budget_bytes(amorsize::array::engine::parse_bytes("--budget", b)?);
    }
    if let Some(b) = &args.min_chunk_bytes {
        rec = rec.min_chunk_bytes(amorsize::array::engine::parse_bytes(
            "--min-chunk-bytes",
            b,
        )?);
    }
    if let Some(b) = &args.working_set {
        rec = rec.working_set_bytes(amorsize::array::engine::parse_bytes("--working-set", b)?);
    }
    let r = rec.recommend(&shape, es, None)?;
    let total: u128 = shape.iter().map(|&s| s as u128).product::<u128>() * es as u128;
    if args.json {
        let v = serde_json::json!({
            "shape": shape,
            "dtype": args.dtype,
            "element_size": es,
            "array_bytes": total as f64,
            "recommendation": r,
        });
        serde_json::to_string_pretty(&v).map_err(|e| Error::invalid_input("json", e.to_string()))
    } else {
        Ok(format!(
            "array {:?} of {} ({} B/element, {:.1} MiB)\n{}",
            shape,
            args.dtype,
            es,
            total as f64 / (1u64 << 20) as f64,
            r
        ))
    }
}

/// Runs the subcommand; returns the exit status (0, or 255 with one line on stderr).
pub fn main(args: Args) -> u8 {
    match run(&args.inner) {
        Ok(text) => output::status(output::println(
            "writing the recommendation to stdout",
            text.trim_end(),
        )),
        Err(e) => {
            output::eprint_line(&format!("amorsize chunks: {e}"));
            output::ERROR
        }
    }
}
