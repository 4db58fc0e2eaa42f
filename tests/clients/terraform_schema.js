// Prints, as JSON, the attributes of the Terraform Vault provider's PKI resources as @cdktf/provider-vault ships
// them: for each resource, `inputs` (what a configuration may set: name -> {type, storage, block_fields}) from the
// generated synthesizeHclAttributes(), and `computed` (read-only attributes: name -> getter kind) from the getters
// that have no setter. Read from the package's source text, so nothing of cdktf needs to load.
//
// Usage: node terraform_schema.js <resource> [<resource> ...]   e.g. pki-secret-backend-role
'use strict';

const fs = require('fs');
const path = require('path');

function packageLib() {
  const main = require.resolve('@cdktf/provider-vault/package.json');
  return path.join(path.dirname(main), 'lib');
}

// The body of `name() { ... }` at class-member indentation (4 spaces), or throws.
function methodBody(source, name) {
  const start = source.indexOf('\n    ' + name + '() {');
  if (start < 0) throw new Error('no ' + name + '() in the generated resource');
  const end = source.indexOf('\n    }\n', start);
  return source.slice(start, end);
}

// Field names of a nested block: the keys the block's *ToTerraform(struct) function returns.
function blockFields(source, converter) {
  const start = source.indexOf('function ' + converter + '(struct) {');
  if (start < 0) return null;
  const ret = source.indexOf('return {', start);
  const end = source.indexOf('};', ret);
  return [...source.slice(ret, end).matchAll(/^\s+(\w+): /gm)].map((m) => m[1]).sort();
}

function resourceSchema(resource) {
  const source = fs.readFileSync(path.join(packageLib(), resource, 'index.js'), 'utf8');
  const inputs = {};
  const hcl = methodBody(source, 'synthesizeHclAttributes');
  const entry = /^ {12}(\w+): \{\n\s+value: ([^\n]*),\n\s+isBlock: (true|false),\n\s+type: "(\w+)",\n\s+storageClassType: "(\w+)",/gm;
  for (const m of hcl.matchAll(entry)) {
    const attr = { type: m[4], storage: m[5] };
    if (m[3] === 'true') {
      const conv = /listMapperHcl\((\w+)ToHclTerraform/.exec(m[2]);
      attr.block_fields = conv ? blockFields(source, conv[1] + 'ToTerraform') : null;
    }
    inputs[m[1]] = attr;
  }
  if (Object.keys(inputs).length === 0) throw new Error(resource + ': no attributes found (generator changed?)');

  // Getters: `get x() { return this.getStringAttribute('x'); }`; computed-only ones have no `set x(`.
  const computed = {};
  const getter = /\n {4}get (\w+)\(\) \{\n\s+return this\.get(\w+)Attribute\('(\w+)'\);/g;
  for (const m of source.matchAll(getter)) {
    const attr = m[3];
    if (attr in inputs) continue;
    if (source.includes('\n    set ' + m[1] + '(')) continue;
    computed[attr] = m[2];
  }
  return { inputs, computed };
}

const out = {};
for (const r of process.argv.slice(2)) out[r] = resourceSchema(r);
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
