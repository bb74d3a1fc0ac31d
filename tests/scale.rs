//! Hostile sizes (issue 10): a Dockerfile of 100,000 instructions and one
//! of 10 MB parse and lower completely. Their time and peak memory, linear
//! in the input, are measured in BENCHMARKS.md (no timing here).

fn many_instructions(count: usize) -> String {
    let mut text = String::from("FROM busybox AS base\n");
    for i in 1..count {
        let line = match i % 5 {
            0 => format!("RUN echo step {i} && true\n"),
            1 => format!("ENV V{i}=value{i}\n"),
            2 => format!("COPY src{i} /dst{i}/\n"),
            3 => format!("LABEL l{i}=\"x\"\n"),
            _ => format!("ARG A{i}={i}\n"),
        };
        text.push_str(&line);
    }
    text
}

#[test]
fn a_dockerfile_of_100000_instructions_parses_and_lowers() {
    let text = many_instructions(100_000);
    let df = rbuild::dockerfile::parse(&text).expect("parses");
    assert_eq!(df.instructions.len(), 100_000);
    let plan = rbuild::ir::lower(&df).expect("lowers");
    assert_eq!(plan.stages[0].steps.len(), 99_999);
}

#[test]
fn a_10_mb_dockerfile_parses() {
    let mut text = String::from("FROM busybox\n");
    let word = "x".repeat(1000);
    let mut lines = 0;
    while text.len() < 10 << 20 {
        text.push_str(&format!("RUN echo {word} {lines}\n"));
        lines += 1;
    }
    let df = rbuild::dockerfile::parse(&text).expect("parses");
    assert_eq!(df.instructions.len(), lines + 1);
    // One continuation line of 10 MB is one instruction.
    let joined = format!("FROM busybox\nRUN echo \\\n{}\n", "y ".repeat(5 << 20));
    let df = rbuild::dockerfile::parse(&joined).expect("parses");
    assert_eq!(df.instructions.len(), 2);
}
