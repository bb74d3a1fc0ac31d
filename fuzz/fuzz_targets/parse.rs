//! Any bytes: parsing, lowering and dumping must never panic, and every span
//! must point inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(df) = rbuild::dockerfile::parse_bytes(data) else {
        return;
    };
    let _ = rbuild::dockerfile::dump::dump(&df);
    for instruction in &df.instructions {
        assert!(instruction.span.end.offset <= data.len());
        assert!(instruction.span.start.offset <= instruction.span.end.offset);
    }
    if let Ok(plan) = rbuild::ir::lower(&df) {
        let _ = rbuild::lint::lint(&df, &plan);
    }
});
