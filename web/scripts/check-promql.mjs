// Parses PromQL expressions with Prometheus's own grammar (@prometheus-io/lezer-promql, from the
// web app's node_modules) and prints those that do not parse. Input: a JSON list of
// {"name", "expr"} on stdin. Output: a JSON list of {"name", "at", "near"} (empty: all parse).
//   node web/scripts/check-promql.mjs < expressions.json
// Used by tests/unit/test_prometheus_files.py (promtool is not at hand on the build machine).
import { parser } from "@prometheus-io/lezer-promql";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const expressions = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const refused = [];
for (const { name, expr } of expressions) {
  const tree = parser.parse(expr);
  let error = null;
  tree.iterate({
    enter(node) {
      if (error === null && node.type.isError) error = node.from;
    },
  });
  if (error !== null) refused.push({ name, at: error, near: expr.slice(error, error + 30) });
}
process.stdout.write(JSON.stringify(refused));
