// Shared by the SDK scripts: run the scenario named on the command line and print its result as one JSON
// line, or the error the SDK raised (its class, and the fields Keybrake's code can be read from).
export function describeError(err) {
  return {
    class: err?.constructor?.name,
    type: err?.type,
    code: err?.code,
    status: err?.statusCode ?? err?.status,
    more_info: err?.moreInfo,
    name: err?.name,
    message: err?.message,
    request_id: err?.requestId,
    audit_id: err?.headers?.['x-keybrake-audit-id'],
  };
}

export async function report(scenarios) {
  const name = process.argv[2];
  const scenario = scenarios[name];
  if (!scenario) {
    console.error(`unknown scenario '${name}'; one of: ${Object.keys(scenarios).join(', ')}`);
    process.exit(2);
  }

  try {
    console.log(JSON.stringify({ ok: true, result: await scenario() }));
  } catch (err) {
    console.log(JSON.stringify({ ok: false, error: describeError(err) }));
  }
}
