//! Prometheus metrics in the text exposition format, kept in process (no extra dependency).
//! Routes are labelled by their matched pattern, so label cardinality stays bounded.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Latency histogram bucket bounds in seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default)]
struct RouteStats {
    /// Responses by status class: index 0 is 1xx … index 4 is 5xx.
    by_class: [u64; 5],
    /// Cumulative counts per bucket bound.
    buckets: [u64; BUCKETS.len()],
    sum_seconds: f64,
    count: u64,
}

#[derive(Default)]
struct Counters {
    routes: BTreeMap<(String, String), RouteStats>,
    messages: BTreeMap<&'static str, u64>,
}

pub struct Metrics {
    backend: &'static str,
    counters: Mutex<Counters>,
}

impl Metrics {
    pub fn new(backend: &'static str) -> Self {
        Metrics { backend, counters: Mutex::new(Counters::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let class = usize::from((status / 100).clamp(1, 5) - 1);
        let seconds = elapsed.as_secs_f64();
        let mut c = self.lock();
        let stats = c.routes.entry((route.to_owned(), method.to_owned())).or_default();
        stats.by_class[class] += 1;
        for (bound, slot) in BUCKETS.iter().zip(stats.buckets.iter_mut()) {
            if seconds <= *bound {
                *slot += 1;
            }
        }
        stats.sum_seconds += seconds;
        stats.count += 1;
    }

    /// A message was created; `author` is the author kind (`visitor`, `agent`, …).
    pub fn record_message(&self, author: &'static str) {
        *self.lock().messages.entry(author).or_default() += 1;
    }

    pub fn render(&self) -> String {
        let c = self.lock();
        let mut out = String::new();
        let _ = writeln!(out, "# HELP frontdesk_store_info The storage backend in use.");
        let _ = writeln!(out, "# TYPE frontdesk_store_info gauge");
        let _ = writeln!(out, "frontdesk_store_info{{backend=\"{}\"}} 1", escape(self.backend));

        let _ = writeln!(out, "# HELP frontdesk_http_requests_total HTTP responses by route and status class.");
        let _ = writeln!(out, "# TYPE frontdesk_http_requests_total counter");
        for ((route, method), stats) in &c.routes {
            for (i, n) in stats.by_class.iter().enumerate() {
                if *n > 0 {
                    let _ = writeln!(
                        out,
                        "frontdesk_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}xx\"}} {n}",
                        escape(method),
                        escape(route),
                        i + 1
                    );
                }
            }
        }

        let _ = writeln!(out, "# HELP frontdesk_http_request_duration_seconds Request latency by route.");
        let _ = writeln!(out, "# TYPE frontdesk_http_request_duration_seconds histogram");
        for ((route, method), stats) in &c.routes {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            for (bound, n) in BUCKETS.iter().zip(stats.buckets.iter()) {
                let _ = writeln!(out, "frontdesk_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}");
            }
            let _ =
                writeln!(out, "frontdesk_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", stats.count);
            let _ = writeln!(out, "frontdesk_http_request_duration_seconds_sum{{{labels}}} {}", stats.sum_seconds);
            let _ = writeln!(out, "frontdesk_http_request_duration_seconds_count{{{labels}}} {}", stats.count);
        }

        let _ =
            writeln!(out, "# HELP frontdesk_messages_created_total Messages created through the API, by author kind.");
        let _ = writeln!(out, "# TYPE frontdesk_messages_created_total counter");
        if c.messages.is_empty() {
            let _ = writeln!(out, "frontdesk_messages_created_total{{author=\"visitor\"}} 0");
        }
        for (author, n) in &c.messages {
            let _ = writeln!(out, "frontdesk_messages_created_total{{author=\"{}\"}} {n}", escape(author));
        }
        out
    }
}

/// Escapes a label value as the exposition format requires.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_backend() {
        let m = Metrics::new("sqlite");
        m.record_request("GET", "/api/chat/health", 200, Duration::from_millis(3));
        m.record_request("GET", "/api/chat/health", 200, Duration::from_millis(30));
        m.record_request("POST", "/api/chat/message", 429, Duration::from_millis(1));
        m.record_message("visitor");
        let text = m.render();
        assert!(text.contains("frontdesk_store_info{backend=\"sqlite\"} 1"), "{text}");
        assert!(
            text.contains("frontdesk_http_requests_total{method=\"GET\",route=\"/api/chat/health\",status=\"2xx\"} 2"),
            "{text}"
        );
        assert!(
            text.contains(
                "frontdesk_http_requests_total{method=\"POST\",route=\"/api/chat/message\",status=\"4xx\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("frontdesk_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/chat/health\",le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("frontdesk_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/chat/health\",le=\"0.05\"} 2"), "{text}");
        assert!(
            text.contains("frontdesk_http_request_duration_seconds_count{method=\"GET\",route=\"/api/chat/health\"} 2"),
            "{text}"
        );
        assert!(text.contains("frontdesk_messages_created_total{author=\"visitor\"} 1"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
