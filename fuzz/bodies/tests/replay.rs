//! Every fuzz target's seeds and saved regressions, replayed through the target's
//! body in the ordinary test build, with a few hundred inputs derived from them.
//! `scripts/fuzz.sh` does the real (instrumented, coverage-guided) fuzzing.

use std::path::{Path, PathBuf};

use drydock_fuzz_bodies::TARGETS;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `scripts/fuzz.sh` takes each target's seed corpus from.
fn seed_dirs(target: &str) -> Vec<PathBuf> {
    let ws = workspace();
    match target {
        "component" => vec![ws.join("policy-wasm/builtin")],
        "case_table" => vec![ws.join("policy-wasm/default/cases"), ws.join("policy-wasm/strict/cases")],
        t => vec![ws.join("fuzz/seeds").join(t)],
    }
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

/// A fixed pseudo-random sequence (xorshift), so every run replays the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `seed` with a few bytes overwritten, cut short or grown with noise.
    fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut out = seed.to_vec();
        match self.next() % 3 {
            0 if !out.is_empty() => out.truncate((self.next() as usize) % out.len()),
            1 => (0..1 + self.next() % 32).for_each(|_| out.push(self.next() as u8)),
            _ => {}
        }
        for _ in 0..1 + self.next() % 4 {
            if !out.is_empty() {
                let at = (self.next() as usize) % out.len();
                out[at] = self.next() as u8;
            }
        }
        out
    }
}

#[test]
fn every_saved_regression_and_seed_passes_every_target() {
    let regressions = workspace().join("fuzz/regressions");
    for (name, run) in TARGETS {
        let mut inputs = files(&regressions.join(name));
        let regressions_seen = inputs.len();
        for dir in seed_dirs(name) {
            inputs.extend(files(&dir));
        }
        assert!(inputs.len() > regressions_seen || name == "request", "{name}: no seeds found");
        for (path, bytes) in &inputs {
            eprintln!("{name}: {}", path.display());
            run(bytes);
        }
        // Inputs near the seeds (few for components: each that parses is compiled).
        let mut rng = Rng(0x5eed_0000 + name.len() as u64);
        let derived = if name == "component" { 8 } else { 200 };
        let empty = vec![(PathBuf::new(), Vec::new())];
        let bases = if inputs.is_empty() { &empty } else { &inputs };
        for i in 0..derived {
            let base = &bases[i % bases.len()].1;
            run(&rng.mutate(base));
        }
        eprintln!("{name}: {} saved inputs ({regressions_seen} regressions), {derived} derived", inputs.len());
    }
}
