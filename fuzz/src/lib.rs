//! Helpers shared by the fuzz targets in `fuzz_targets/`: deterministic
//! input-derived chunking, a stream-translator driver, JSON output checks and
//! the provider instances the native adapters are exercised with.
//!
//! A panic anywhere here is a finding; the helpers themselves only panic on
//! a broken invariant (or on a harness set-up error, which is not input-driven).
//!
//! Every target links this crate and so runs under [`CappedAlloc`]: one
//! allocation larger than [`MAX_ALLOC`] aborts the process, which libFuzzer
//! reports as a crash with its input. Targets are built without a sanitizer
//! (stable Rust, see `scripts/fuzz.sh`), so libFuzzer's `-malloc_limit_mb`
//! (which needs a sanitizer's malloc hooks) is not available, and
//! `-rss_limit_mb` misses a huge allocation whose pages are never touched.

use ferro_providers::instance::InstanceSettings;
use ferro_providers::native::{self, NativeAdapter, StreamTranslator};
use ferro_providers::{spec, ProviderInstance, Secret};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::OnceLock;

/// Largest single allocation a fuzz input may cause. Inputs are at most
/// 64 KiB (`-max_len` in `scripts/fuzz.sh`) and the code under test allocates
/// in proportion to its input, so anything this big was sized by a length the
/// input claims (an event-stream prefix, a JSON count) rather than by its data.
pub const MAX_ALLOC: usize = 8 * 1024 * 1024;

/// The system allocator, refusing (by aborting) single allocations over
/// [`MAX_ALLOC`]. Aborting rather than panicking: an allocator must not unwind.
pub struct CappedAlloc;

impl CappedAlloc {
    fn check(size: usize) {
        if size > MAX_ALLOC {
            // No formatting: allocating here would recurse.
            let msg: &[u8] = b"\n==ferro-fuzz== single allocation over MAX_ALLOC (8 MiB): an input-claimed length is trusted\n";
            let _ = std::io::Write::write_all(&mut std::io::stderr(), msg);
            std::process::abort();
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the size check only adds an abort before the call.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::check(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

/// FNV-1a over the input: the seed of the cut points, so one input always
/// splits the same way (reproducible crashes) and mutations move the cuts.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Cuts `data` into consecutive pieces at pseudo-random points: mostly small
/// pieces (1..=16 bytes, to land cuts inside terminators and length prefixes),
/// sometimes larger ones, and now and then an empty piece. `salt` gives a
/// different split of the same input.
pub fn pieces(data: &[u8], salt: u64) -> Vec<&[u8]> {
    let mut x = (fnv1a(data) ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1;
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x & 31 == 0 {
            out.push(&rest[..0]);
            continue;
        }
        let n = if x & 3 == 0 {
            (x >> 8) % 512 + 1
        } else {
            (x >> 8) % 16 + 1
        };
        let n = usize::try_from(n).unwrap_or(1).min(rest.len());
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
    }
    out
}

/// What a stream translator produced: its chunk payloads and the first error.
pub type StreamOutcome = (Vec<Vec<u8>>, Option<String>);

/// Drives a translator the way the gateway does (`TranslatedStream`): push
/// each piece until one fails, then `finish` if none did.
pub fn run_stream(tr: &mut dyn StreamTranslator, parts: &[&[u8]]) -> StreamOutcome {
    let mut out = Vec::new();
    for p in parts {
        if let Err(e) = tr.push(p, &mut out) {
            return (out, Some(e.0));
        }
    }
    let err = tr.finish(&mut out).err().map(|e| e.0);
    (out, err)
}

/// Panics unless a run of a translator over split input produced the same
/// chunks and the same error as the run over the whole input (`want`),
/// showing both as text (chunks are JSON, errors are messages).
pub fn assert_same_outcome(got: &StreamOutcome, want: &StreamOutcome, what: &str) {
    if got != want {
        let text = |o: &StreamOutcome| {
            let chunks: Vec<String> =
                o.0.iter()
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect();
            format!("chunks {chunks:#?}\nerror {:?}", o.1)
        };
        panic!(
            "{what}: splitting the input changed the output\n--- split:\n{}\n--- whole:\n{}",
            text(got),
            text(want)
        );
    }
}

/// Panics unless `bytes` is one syntactically valid JSON value (UTF-8, no
/// trailing data). Parsed without serde_json's nesting limit: output nests a
/// few levels deeper than its (limit-checked) input, which is still JSON.
pub fn assert_json(bytes: &[u8], what: &str) {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    let parsed = serde::de::Deserialize::deserialize(&mut de)
        .map(|_: serde::de::IgnoredAny| ())
        .and_then(|()| de.end());
    if let Err(e) = parsed {
        panic!(
            "{what}: output is not JSON ({e}): {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

/// One native adapter with an instance to build requests against and the
/// models whose translation paths differ (Vertex: Claude vs Gemini).
pub struct Native {
    pub id: &'static str,
    pub adapter: &'static dyn NativeAdapter,
    pub inst: ProviderInstance,
    pub models: &'static [&'static str],
    /// Embedding models (`embed_response_for`), per family where it matters.
    pub embed_models: &'static [&'static str],
}

fn build(
    id: &'static str,
    models: &'static [&'static str],
    embed_models: &'static [&'static str],
    extra: &[(&str, &str)],
) -> Native {
    let spec = spec::find(id).unwrap_or_else(|| panic!("harness: no provider spec `{id}`"));
    let adapter =
        native::adapter(id).unwrap_or_else(|| panic!("harness: no native adapter `{id}`"));
    let mut s = InstanceSettings {
        api_key: Some(Secret::new("fuzz-key")),
        ..Default::default()
    };
    for (k, v) in extra {
        s.extra.insert((*k).into(), (*v).into());
    }
    let inst = ProviderInstance::build(spec, s)
        .unwrap_or_else(|e| panic!("harness: cannot build a `{id}` instance: {e}"));
    Native {
        id,
        adapter,
        inst,
        models,
        embed_models,
    }
}

/// Every native adapter (`native::adapter`), built once per process.
pub fn natives() -> &'static [Native] {
    static ALL: OnceLock<Vec<Native>> = OnceLock::new();
    ALL.get_or_init(|| {
        vec![
            build("anthropic", &["claude-3-5-haiku-20241022"], &[], &[]),
            build(
                "gemini",
                &["gemini-2.0-flash"],
                &["text-embedding-004"],
                &[],
            ),
            build(
                "vertex-ai",
                &["claude-sonnet-4@20250514", "gemini-2.0-flash"],
                &["text-embedding-005"],
                &[("project_id", "fuzz-project"), ("region", "us-central1")],
            ),
            build(
                "bedrock",
                &["anthropic.claude-3-5-haiku-20241022-v1:0"],
                &["amazon.titan-embed-text-v2:0", "cohere.embed-english-v3"],
                &[("region", "us-east-1")],
            ),
            build("cohere", &["command-r-plus"], &["embed-english-v3.0"], &[]),
        ]
    })
}
