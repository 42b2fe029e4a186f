// Runs the GraphQL over HTTP audit suite of graphql-http (serverAudits)
// against the GraphQL endpoint given as the only argument, prints one line
// per audit, and exits 1 if any audit is not ok: an error breaks a MUST of
// the spec, a warning or a notice a SHOULD or a MAY, and orderflow keeps all
// of them.
//
//   node audit.mjs http://127.0.0.1:8080/graphql
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url || !URL.canParse(url)) {
  console.error('usage: node audit.mjs <graphql endpoint URL, e.g. http://127.0.0.1:8080/graphql>');
  process.exit(2);
}

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const audit of serverAudits({ url })) {
  let result;
  try {
    result = await audit.fn();
  } catch (err) {
    // An audit throws only when it cannot run at all (the server is not
    // there, the answer is not HTTP): that is a failure too.
    console.error(`fatal  ${audit.id} ${audit.name}: ${err?.cause ?? err}`);
    process.exit(1);
  }
  counts[result.status] = (counts[result.status] ?? 0) + 1;
  if (result.status === 'ok') {
    console.log(`ok     ${result.id} ${result.name}`);
    continue;
  }
  // The response is shown so that a failure says what the server answered.
  let body = '';
  try {
    body = await result.response.text();
  } catch {
    body = '(body already read)';
  }
  console.log(`${result.status.padEnd(6)} ${result.id} ${result.name}`);
  console.log(`       reason: ${result.reason}`);
  console.log(
    `       got: ${result.response.status} ${result.response.headers.get('content-type') ?? ''} ${body.slice(0, 500)}`,
  );
}

console.log(
  `${counts.ok} ok, ${counts.notice} notices, ${counts.warn} warnings, ${counts.error} errors`,
);
process.exit(counts.ok === Object.values(counts).reduce((a, b) => a + b, 0) ? 0 : 1);
