//! Picks an object's format from its first lines: each known format votes for the lines it
//! recognizes, the most votes win, and ties go to the earlier format in [`Format::ALL`]. With no
//! votes at all the original format is used, so the lines are counted as unparsed in it.

use super::{alb, combined, json, original, Format};

pub fn detect(head: &[u8]) -> Format {
    let mut votes = [0usize; 4];
    for line in head
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.trim_ascii().is_empty())
        .take(super::DETECT_LINES)
    {
        for (n, format) in Format::ALL.iter().enumerate() {
            let hit = match format {
                Format::Original => original::looks_like(line),
                Format::Alb => alb::looks_like(line),
                Format::Combined => combined::looks_like(line),
                Format::Json => json::looks_like(line),
            };
            votes[n] += usize::from(hit);
        }
    }
    let best = (0..votes.len()).max_by_key(|n| (votes[*n], std::cmp::Reverse(*n)));
    match best {
        Some(n) if votes[n] > 0 => Format::ALL[n],
        _ => Format::Original,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_is_recognized() {
        let cases = [
            ("[2024-12-08 12:34:56.789] INFO - GET /api/users - status: 200 - response_time: 145.32ms\n", Format::Original),
            ("http 2018-07-02T22:23:00.186641Z app/lb/1 1.2.3.4:1 10.0.0.1:80 0.0 0.1 0.0 200 200 1 2 \"GET / HTTP/1.1\" \"ua\"\n", Format::Alb),
            ("1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.1\n", Format::Combined),
            ("{\"status\":200,\"duration_ms\":3}\n{\"status\":500}\n", Format::Json),
            ("", Format::Original),
            ("\u{0}\u{1}binary junk\n", Format::Original),
        ];
        for (head, want) in cases {
            assert_eq!(detect(head.as_bytes()), want, "{head:?}");
        }
    }

    #[test]
    fn majority_wins_over_a_stray_line() {
        let head = "garbage\n{\"status\":200}\n{\"status\":201}\n[t] INFO - GET / - status: 200 - response_time: 1ms\n";
        assert_eq!(detect(head.as_bytes()), Format::Json);
    }
}
