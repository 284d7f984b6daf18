import Testing

/// Suites whose assertions involve time under load (the demo's throughput in 20 s, timeouts to the tens of
/// milliseconds, traffic moving while files change) and suites that load the machine most (the traffic-policy
/// tests' thousands of requests, the network-namespace pods with their churn of a thousand pods through the test API
/// server, the Kubernetes suites' strict validations): run one after another, so they do not starve each other when the whole suite
/// runs at once. Other suites still run beside them.
@Suite(.serialized) enum TimingSensitiveTests {}
