//! Report mode: the body passes unchanged and zero-copy (each input block is
//! shared on, never copied); matches are counted and logged once per body.

use std::sync::Arc;

use plugin_sdk::{Chunk, Output, StreamTransform};

use crate::log::MatchLog;
use crate::matcher::Scan;
use crate::Shared;

/// One body in report mode.
pub struct Report {
    shared: Arc<Shared>,
    scan: Scan,
    log: MatchLog,
}

impl Report {
    /// A report transform for one body; `log` names it.
    pub fn new(shared: Arc<Shared>, log: MatchLog) -> Report {
        let scan = Scan::new(&shared.matcher);
        Report { shared, scan, log }
    }
}

impl StreamTransform for Report {
    fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
        let Report { shared, scan, log } = self;
        scan.feed(&shared.matcher, chunk, &mut |f| log.record(f));
        out.pass(chunk);
    }

    fn on_end(&mut self, _out: &mut Output<'_>) {
        let Report { shared, scan, log } = self;
        scan.finish(&mut |f| log.record(f));
        shared.body_done(scan.scanned(), log);
    }

    fn output_len(&self, input_len: Option<u64>) -> Option<u64> {
        input_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Count;
    use crate::tests::{every_split, shared};
    use crate::Mode;

    #[test]
    fn passes_every_split_unchanged_and_counts_exactly() {
        let pats = "abcd\nbc\ncde\n\\x00\\xff\nneedle\n";
        let body = b"abcd bc cde \x00\xff abccde needle-needle".to_vec();
        let sh = shared(pats, Mode::Report, false);
        let runs = every_split(&body, || Report::new(Arc::clone(&sh), MatchLog::new("response", "GET", "/")));
        for (what, out) in &runs {
            assert_eq!(out.bytes, body, "{what}");
            assert!(out.complete && out.errors.is_empty(), "{what}: {out:?}");
        }
        let runs = runs.len() as u64;
        // Per body: abcd, bc, cde, \x00\xff, bc + cde (in abccde), needle twice.
        assert_eq!(sh.stats.get(Count::Matches), 8 * runs);
        assert_eq!(sh.stats.get(Count::BodiesMatched), runs);
        assert_eq!(sh.stats.get(Count::BytesScanned), body.len() as u64 * runs);
        let per_pattern: Vec<u64> = (0..6).map(|i| sh.stats.pattern(i)).collect();
        assert_eq!(per_pattern, [runs, 2 * runs, 2 * runs, runs, 2 * runs, 0]);
    }

    #[test]
    fn keeps_the_input_length() {
        let sh = shared("x\n", Mode::Report, false);
        let r = Report::new(Arc::clone(&sh), MatchLog::new("response", "GET", "/"));
        assert_eq!(r.output_len(Some(7)), Some(7));
        let out = plugin_sdk::testing::FakeHost::new()
            .run_stream(Report::new(Arc::clone(&sh), MatchLog::new("response", "GET", "/")), &[b"axb", b"x"]);
        assert_eq!((out.bytes.as_slice(), out.nbytes), (&b"axbx"[..], Some(4)));
        assert_eq!(sh.stats.get(Count::Matches), 2);
    }

    #[test]
    fn ignore_case_counts_every_case() {
        let sh = shared("Secret\n", Mode::Report, true);
        for (what, out) in
            every_split(b"SECRET secret sEcReT", || Report::new(Arc::clone(&sh), MatchLog::new("response", "GET", "/")))
        {
            assert_eq!(out.bytes, b"SECRET secret sEcReT", "{what}");
        }
        let runs = 21 + 3;
        assert_eq!(sh.stats.get(Count::Matches), 3 * runs);
    }
}
