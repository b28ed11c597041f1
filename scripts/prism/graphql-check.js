#!/usr/bin/env node
// Checks GraphQL requests against GitHub's published schema (npm @octokit/graphql-schema)
// with the reference implementation (npm graphql): the document must parse and validate,
// and its variables must coerce to the declared types. Reads a JSON list of request bodies
// ({"query": ..., "variables": ...}) on stdin; prints each problem; exits 1 if there is one.
// Used by tests/suite/forge/auto_merge.rs with NODE_PATH=target/prism/node_modules.
"use strict";
const fs = require("fs");
const path = require("path");
const { buildClientSchema, parse, validate, getOperationAST } = require("graphql");
const { getVariableValues } = require("graphql/execution/values");

// The package is ESM-only and exports no files: find it on NODE_PATH and read it directly.
const schemaDir = (process.env.NODE_PATH || "")
  .split(path.delimiter)
  .map((dir) => path.join(dir, "@octokit", "graphql-schema"))
  .find((dir) => fs.existsSync(path.join(dir, "schema.json")));
if (!schemaDir) {
  console.error("@octokit/graphql-schema is not on NODE_PATH: install scripts/prism into target/prism");
  process.exit(2);
}
const version = JSON.parse(fs.readFileSync(path.join(schemaDir, "package.json"), "utf8")).version;
// The introspection result, as the package's own validate() reads it (its schema.graphql
// repeats two fields and does not build).
const schema = buildClientSchema(JSON.parse(fs.readFileSync(path.join(schemaDir, "schema.json"), "utf8")));

const bodies = JSON.parse(fs.readFileSync(0, "utf8"));
let problems = 0;
for (const [i, body] of bodies.entries()) {
  let doc;
  try {
    doc = parse(body.query);
  } catch (e) {
    console.log(`request ${i}: does not parse: ${e.message}`);
    problems++;
    continue;
  }
  for (const e of validate(schema, doc)) {
    console.log(`request ${i}: ${e.message}`);
    problems++;
  }
  const op = getOperationAST(doc);
  if (op) {
    const { errors } = getVariableValues(schema, op.variableDefinitions || [], body.variables || {});
    for (const e of errors || []) {
      console.log(`request ${i}: variables: ${e.message}`);
      problems++;
    }
  }
}
console.log(`checked ${bodies.length} request(s) against @octokit/graphql-schema ${version}: ${problems} problem(s)`);
process.exit(problems ? 1 : 0);
