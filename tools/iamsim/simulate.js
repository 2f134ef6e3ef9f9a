// Evaluates IAM requests against identity policies with the third-party
// simulator @cloud-copilot/iam-simulate (see install.sh). Reads from stdin
//
//   {"account": "123456789012", "principal": "arn:aws:iam::...:role/x",
//    "policies": [{"name": "...", "policy": {...}}],
//    "requests": [{"action": "ec2:RunInstances", "resource": "arn:...", "context": {"k": "v"}}]}
//
// and writes, for each policy in order, each request's overall result
// ("Allowed", "ImplicitlyDenied", "ExplicitlyDenied") or the simulator's
// validation error: {"results": [["Allowed", ...], ...]}. A policy with
// "untilDenied": true stops at its first request not allowed.
'use strict'
const { runSimulation } = require('@cloud-copilot/iam-simulate')

async function main() {
  const chunks = []
  for await (const c of process.stdin) chunks.push(c)
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  const results = []
  for (const p of input.policies) {
    const out = []
    for (const r of input.requests) {
      const res = await runSimulation({
        identityPolicies: [{ name: p.name, policy: p.policy }],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: undefined,
        request: {
          action: r.action,
          principal: input.principal,
          resource: { resource: r.resource, accountId: input.account },
          contextVariables: r.context || {},
        },
      }, {})
      if (res.resultType === 'error') {
        out.push('error: ' + JSON.stringify(res.errors))
      } else {
        out.push(res.overallResult)
      }
      if (p.untilDenied && out[out.length - 1] !== 'Allowed') break
    }
    results.push(out)
  }
  process.stdout.write(JSON.stringify({ results }) + '\n')
}

main().catch((e) => { console.error(e); process.exit(1) })
