//! Arithmetic for `set` nodes: numbers, variable paths, `+ - * / %`, parentheses and unary minus.
//! A small recursive-descent parser; nothing else is ever evaluated.

use crate::path::Segment;

const MAX_LEN: usize = 1000;
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Var(Vec<Segment>),
    Neg(Box<Expr>),
    Bin(Box<Expr>, char, Box<Expr>),
}

pub fn parse(text: &str) -> Result<Expr, String> {
    if text.len() > MAX_LEN {
        return Err(format!("the expression is longer than {MAX_LEN} characters"));
    }
    let mut p = Parser { chars: text.chars().collect(), pos: 0, depth: 0 };
    let expr = p.sum()?;
    p.skip_ws();
    match p.peek() {
        None => Ok(expr),
        Some(c) => Err(format!("unexpected `{c}` at position {}", p.pos + 1)),
    }
}

/// Evaluates with `var` giving each path's number (missing or non-numeric: 0).
/// `None` when the result is not a number (division by zero, overflow to infinity).
pub fn eval(expr: &Expr, var: &dyn Fn(&[Segment]) -> f64) -> Option<f64> {
    let value = match expr {
        Expr::Number(n) => *n,
        Expr::Var(path) => var(path),
        Expr::Neg(e) => -eval(e, var)?,
        Expr::Bin(l, op, r) => {
            let (l, r) = (eval(l, var)?, eval(r, var)?);
            match op {
                '+' => l + r,
                '-' => l - r,
                '*' => l * r,
                '/' | '%' if r == 0.0 => return None,
                '/' => l / r,
                _ => l % r,
            }
        }
    };
    value.is_finite().then_some(value)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        loop {
            self.skip_ws();
            match self.peek() {
                Some(op @ ('+' | '-')) => {
                    self.pos += 1;
                    let right = self.product()?;
                    left = Expr::Bin(Box::new(left), op, Box::new(right));
                }
                _ => return Ok(left),
            }
        }
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            self.skip_ws();
            match self.peek() {
                Some(op @ ('*' | '/' | '%')) => {
                    self.pos += 1;
                    let right = self.unary()?;
                    left = Expr::Bin(Box::new(left), op, Box::new(right));
                }
                _ => return Ok(left),
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        self.skip_ws();
        if self.peek() == Some('-') {
            self.pos += 1;
            self.nested(|p| Ok(Expr::Neg(Box::new(p.unary()?))))
        } else {
            self.primary()
        }
    }

    /// Bounds recursion so `((((…` or `----…` cannot overflow the stack.
    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Result<Expr, String>) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("the expression is nested too deeply".to_owned());
        }
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn primary(&mut self) -> Result<Expr, String> {
        self.skip_ws();
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let inner = self.nested(Self::sum)?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err("missing `)`".to_owned());
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                text.parse::<f64>().map(Expr::Number).map_err(|_| format!("`{text}` is not a number"))
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                // A path: names joined by `.` and `[n]` (no `-` here: it is subtraction).
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']')) {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                crate::path::parse_var_path(&text)
                    .map(Expr::Var)
                    .ok_or_else(|| format!("`{text}` is not a variable path"))
            }
            Some(c) => Err(format!("unexpected `{c}` at position {}", self.pos + 1)),
            None => Err("the expression ends too early".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Option<f64> {
        let expr = parse(text).expect("parses");
        let key = |k: &str| Segment::Key(k.to_owned());
        eval(&expr, &|path| {
            if path == [key("count")] {
                4.0
            } else if path == [key("order")] {
                2.5
            } else if path == [key("order"), key("total")] {
                10.0
            } else {
                0.0
            }
        })
    }

    #[test]
    fn evaluates() {
        for (text, expected) in [
            ("count * 2 + 1", Some(9.0)),
            ("1 + 2 * 3", Some(7.0)),
            ("(1 + 2) * 3", Some(9.0)),
            ("10 - 4 - 3", Some(3.0)),
            ("2 * -3", Some(-6.0)),
            ("--2", Some(2.0)),
            ("-(count)", Some(-4.0)),
            ("7 % 4", Some(3.0)),
            ("9 / 2", Some(4.5)),
            ("order.total + order", Some(12.5)),
            ("order.total[0]", Some(0.0)),
            ("missing + 1", Some(1.0)),
            ("1 / 0", None),
            ("1 % (count - 4)", None),
            ("0.5+.5", Some(1.0)),
        ] {
            assert_eq!(run(text), expected, "{text}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "1 +",
            "(1",
            "1)",
            "2 ** 3",
            "a = 1",
            "foo()",
            "1..2",
            "'x'",
            "a b",
            "x[",
            &"(".repeat(100),
            &"-".repeat(100),
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
