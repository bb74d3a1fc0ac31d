//! The subset of Go's text/template that scripts pass to `docker inspect
//! --format`: field paths (`{{.Config.Env}}`), `json`, `index`, `len`,
//! `join`, `upper`, `lower`, `println`, string literals, `{{range}}` and
//! `{{if}}`/`{{else}}` blocks ending in `{{end}}`, and `{{- -}}` trimming.
//! Values print as Go prints them (`[a b]`, `map[k:v]`, `<no value>`).
//! Written here because no maintained crate implements Go's templates over
//! JSON values; the subset is small.

use serde_json::Value;

/// A parsed template.
#[derive(Debug)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug)]
enum Node {
    Text(String),
    Action(Expr),
    Range(Expr, Vec<Node>),
    If(Expr, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone)]
enum Expr {
    /// `.`, `.A.B`
    Path(Vec<String>),
    Str(String),
    Int(i64),
    Call(String, Vec<Expr>),
}

/// A template error: what and where (byte offset in the template).
#[derive(Debug, thiserror::Error)]
#[error("template: {message} (at byte {offset} of {template:?})")]
pub struct TemplateError {
    message: String,
    offset: usize,
    template: String,
}

const FUNCTIONS: &[&str] = &["json", "index", "len", "join", "upper", "lower", "println"];

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let fail = |message: String, offset: usize| TemplateError {
            message,
            offset,
            template: text.to_string(),
        };
        let mut tokens = Vec::new();
        let mut rest = 0;
        while let Some(open) = text[rest..].find("{{") {
            let start = rest + open;
            let close = text[start..]
                .find("}}")
                .map(|c| start + c)
                .ok_or_else(|| fail("unclosed {{".into(), start))?;
            let mut body = &text[start + 2..close];
            let mut literal = text[rest..start].to_string();
            if let Some(b) = body.strip_prefix('-') {
                literal = literal.trim_end().to_string();
                body = b;
            }
            tokens.push((Token::Text(literal), start));
            let trim_after = body.ends_with('-');
            let body = body.strip_suffix('-').unwrap_or(body).trim();
            tokens.push((Token::Action(body.to_string()), start));
            rest = close + 2;
            if trim_after {
                rest += text[rest..].len() - text[rest..].trim_start().len();
            }
        }
        tokens.push((Token::Text(text[rest..].to_string()), text.len()));
        let mut iter = tokens.into_iter().peekable();
        let (nodes, end) = parse_nodes(&mut iter, &fail)?;
        if let Some((word, offset)) = end {
            return Err(fail(format!("unexpected {{{{{word}}}}}"), offset));
        }
        Ok(Template { nodes })
    }

    pub fn render(&self, data: &Value) -> Result<String, String> {
        let mut out = String::new();
        render_nodes(&self.nodes, data, &mut out)?;
        Ok(out)
    }
}

enum Token {
    Text(String),
    Action(String),
}

type Tokens = std::iter::Peekable<std::vec::IntoIter<(Token, usize)>>;
type Fail<'a> = &'a dyn Fn(String, usize) -> TemplateError;
/// Parsed nodes, and the `end` or `else` that closed them (with its offset).
type Block = (Vec<Node>, Option<(String, usize)>);

/// Nodes up to an `end` or `else` (returned with its offset) or the end.
fn parse_nodes(tokens: &mut Tokens, fail: Fail) -> Result<Block, TemplateError> {
    let mut nodes = Vec::new();
    while let Some((token, offset)) = tokens.next() {
        let action = match token {
            Token::Text(t) if t.is_empty() => continue,
            Token::Text(t) => {
                nodes.push(Node::Text(t));
                continue;
            }
            Token::Action(a) => a,
        };
        let (word, rest) = action.split_once(' ').unwrap_or((&action, ""));
        match word {
            "end" | "else" => return Ok((nodes, Some((word.to_string(), offset)))),
            "range" | "if" => {
                let expr = parse_expr(rest, offset, fail)?;
                let (body, end) = parse_nodes(tokens, fail)?;
                let (alternative, end) = match end {
                    Some((w, o)) if w == "else" && word == "if" => {
                        let (alt, end) = parse_nodes(tokens, fail)?;
                        (alt, end.map(|e| (e.0, o)))
                    }
                    other => (Vec::new(), other),
                };
                if end.as_ref().map(|e| e.0.as_str()) != Some("end") {
                    return Err(fail(format!("{{{{{word}}}}} without {{{{end}}}}"), offset));
                }
                nodes.push(if word == "range" {
                    Node::Range(expr, body)
                } else {
                    Node::If(expr, body, alternative)
                });
            }
            _ => nodes.push(Node::Action(parse_expr(&action, offset, fail)?)),
        }
    }
    Ok((nodes, None))
}

/// Splits an action into words, keeping quoted strings whole.
fn words(text: &str, offset: usize, fail: Fail) -> Result<Vec<String>, TemplateError> {
    let mut words = Vec::new();
    let mut chars = text.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut word = String::from('"');
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => word.push('\n'),
                        Some('t') => word.push('\t'),
                        Some(other) => word.push(other),
                        None => return Err(fail("unterminated string".into(), offset)),
                    },
                    Some(other) => word.push(other),
                    None => return Err(fail("unterminated string".into(), offset)),
                }
            }
            words.push(word);
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek().filter(|c| !c.is_whitespace()) {
                word.push(c);
                chars.next();
            }
            words.push(word);
        }
    }
    Ok(words)
}

fn parse_expr(text: &str, offset: usize, fail: Fail) -> Result<Expr, TemplateError> {
    let words = words(text, offset, fail)?;
    let operand = |w: &String| -> Result<Expr, TemplateError> {
        if let Some(s) = w.strip_prefix('"') {
            Ok(Expr::Str(s.to_string()))
        } else if w == "." {
            Ok(Expr::Path(Vec::new()))
        } else if let Some(path) = w.strip_prefix('.') {
            Ok(Expr::Path(path.split('.').map(str::to_string).collect()))
        } else if let Ok(n) = w.parse() {
            Ok(Expr::Int(n))
        } else {
            Err(fail(format!("function {w:?} not defined"), offset))
        }
    };
    match words.split_first() {
        None => Err(fail("empty action".into(), offset)),
        Some((name, args)) if FUNCTIONS.contains(&name.as_str()) => Ok(Expr::Call(
            name.clone(),
            args.iter().map(operand).collect::<Result<_, _>>()?,
        )),
        Some((first, [])) => operand(first),
        Some((first, _)) if !first.starts_with(['.', '"']) => {
            Err(fail(format!("function {first:?} not defined"), offset))
        }
        Some(_) => Err(fail(format!("cannot evaluate {text:?}"), offset)),
    }
}

fn eval(expr: &Expr, dot: &Value) -> Result<Value, String> {
    match expr {
        Expr::Str(s) => Ok(Value::String(s.clone())),
        Expr::Int(n) => Ok(Value::from(*n)),
        Expr::Path(path) => Ok(path
            .iter()
            .try_fold(dot, |v, key| v.get(key))
            .cloned()
            .unwrap_or(Value::Null)),
        Expr::Call(name, args) => {
            let args: Vec<Value> = args
                .iter()
                .map(|a| eval(a, dot))
                .collect::<Result<_, _>>()?;
            call(name, &args)
        }
    }
}

fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    let arg = |i: usize| {
        args.get(i)
            .ok_or_else(|| format!("{name}: missing argument {}", i + 1))
    };
    Ok(match name {
        "json" => Value::String(serde_json::to_string(arg(0)?).map_err(|e| e.to_string())?),
        "index" => {
            let mut value = arg(0)?.clone();
            for key in &args[1..] {
                value = match (&value, key) {
                    (Value::Array(a), Value::Number(n)) => {
                        let i = n.as_u64().unwrap_or(u64::MAX) as usize;
                        a.get(i)
                            .cloned()
                            .ok_or_else(|| format!("index out of range: {i}"))?
                    }
                    (Value::Object(m), Value::String(k)) => {
                        m.get(k).cloned().unwrap_or(Value::Null)
                    }
                    _ => return Err(format!("cannot index {value} with {key}")),
                };
            }
            value
        }
        "len" => Value::from(match arg(0)? {
            Value::Array(a) => a.len(),
            Value::Object(m) => m.len(),
            Value::String(s) => s.len(),
            other => return Err(format!("len of {other}")),
        }),
        "join" => match arg(0)? {
            Value::Array(a) => {
                let sep = go_format(arg(1)?);
                Value::String(a.iter().map(go_format).collect::<Vec<_>>().join(&sep))
            }
            other => return Err(format!("join of {other}")),
        },
        "upper" => Value::String(go_format(arg(0)?).to_uppercase()),
        "lower" => Value::String(go_format(arg(0)?).to_lowercase()),
        "println" => Value::String(args.iter().map(go_format).collect::<Vec<_>>().join(" ") + "\n"),
        _ => return Err(format!("function {name:?} not defined")),
    })
}

/// How Go's fmt prints a value in a template.
fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(go_format).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => {
            let mut pairs: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_format(v)))
                .collect();
            pairs.sort();
            format!("map[{}]", pairs.join(" "))
        }
        other => other.to_string(),
    }
}

/// Go's truth: false, 0, null, and empty strings, arrays and maps are false.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

fn render_nodes(nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action(expr) => out.push_str(&go_format(&eval(expr, dot)?)),
            Node::Range(expr, body) => match eval(expr, dot)? {
                Value::Array(items) => {
                    for item in &items {
                        render_nodes(body, item, out)?;
                    }
                }
                Value::Object(map) => {
                    for item in map.values() {
                        render_nodes(body, item, out)?;
                    }
                }
                Value::Null => {}
                other => return Err(format!("range can't iterate over {other}")),
            },
            Node::If(expr, body, alternative) => {
                let branch = if truthy(&eval(expr, dot)?) {
                    body
                } else {
                    alternative
                };
                render_nodes(branch, dot, out)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, data: &Value) -> String {
        Template::parse(template).unwrap().render(data).unwrap()
    }

    #[test]
    fn the_forms_ci_scripts_use() {
        let data = json!({
            "Id": "sha256:abc",
            "RepoDigests": ["r@sha256:1", "r@sha256:2"],
            "Config": {"Env": ["A=1", "B=2"], "Labels": {"b": "2", "a": "1"}, "User": ""},
        });
        assert_eq!(render("{{.Id}}", &data), "sha256:abc");
        assert_eq!(render("{{.Config.Env}}", &data), "[A=1 B=2]");
        assert_eq!(render("{{json .Config.Env}}", &data), r#"["A=1","B=2"]"#);
        assert_eq!(render("{{index .RepoDigests 0}}", &data), "r@sha256:1");
        assert_eq!(render("{{index .Config.Labels \"a\"}}", &data), "1");
        assert_eq!(
            render("{{range .Config.Env}}{{.}}\n{{end}}", &data),
            "A=1\nB=2\n"
        );
        assert_eq!(render("{{.Config.Labels}}", &data), "map[a:1 b:2]");
        assert_eq!(render("{{.Missing}}", &data), "<no value>");
        assert_eq!(
            render("{{len .RepoDigests}} {{join .Config.Env \",\"}}", &data),
            "2 A=1,B=2"
        );
        assert_eq!(
            render("{{if .Config.User}}u{{else}}root{{end}}", &data),
            "root"
        );
        assert_eq!(render("a {{- \" b \" -}} c", &data), "a b c");
    }

    #[test]
    fn errors_say_what_and_where() {
        let err = Template::parse("x {{.Id").unwrap_err().to_string();
        assert!(err.contains("unclosed") && err.contains("byte 2"), "{err}");
        let err = Template::parse("{{range .A}}x").unwrap_err().to_string();
        assert!(err.contains("without {{end}}"), "{err}");
        let err = Template::parse("{{nope .A}}").unwrap_err().to_string();
        assert!(err.contains("\"nope\" not defined"), "{err}");
        let data = json!({"A": [1]});
        let err = Template::parse("{{index .A 5}}")
            .unwrap()
            .render(&data)
            .unwrap_err();
        assert!(err.contains("out of range"), "{err}");
    }
}
