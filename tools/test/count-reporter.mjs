// A node:test reporter that counts leaf tests and writes one JSON line at the end:
// {"passed":N,"failed":N,"skipped":N}. Suites (describe) are not counted; a failing suite
// or file-level error with no failing leaf counts as one failure so it is never lost.
export default async function* countReporter(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let orphanFailures = 0;
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { data } = event;
    const isSuite = data.details?.type === 'suite';
    if (isSuite) {
      if (event.type === 'test:fail' && isOwnFailure(data)) orphanFailures++;
      continue;
    }
    if (data.skip !== undefined || data.todo !== undefined) skipped++;
    else if (event.type === 'test:pass') passed++;
    else failed++;
  }
  yield `${JSON.stringify({ passed, failed: failed + orphanFailures, skipped })}\n`;
}

// A suite fails either because a child failed (already counted) or on its own (a hook threw,
// or the file could not load). Only the latter is added.
function isOwnFailure(data) {
  const cause = data.details?.error?.failureType;
  return cause !== 'subtestsFailed';
}
