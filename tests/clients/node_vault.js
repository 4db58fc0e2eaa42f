// node-vault against pki-server: mounts a PKI engine, makes a root, writes/patches/lists/deletes a role, issues and
// revokes a certificate, and checks what node-vault hands back (it rejects on any status but 200/204). Prints the
// PEMs and serial as JSON on stdout for tests/integration/test_node_clients.py to verify with openssl.
//
// Usage: VAULT_ADDR=... VAULT_TOKEN=... node node_vault.js <mount>
'use strict';

const assert = require('node:assert/strict');
const nodeVault = require('node-vault');

const mount = process.argv[2];

async function rejects(promise, statusCode, message) {
  try {
    await promise;
  } catch (err) {
    assert.equal(err.response.statusCode, statusCode, err.message);
    if (message !== undefined) assert.equal(err.message, message);
    return err;
  }
  assert.fail('expected a ' + statusCode + ' rejection');
}

async function main() {
  const vault = nodeVault({ apiVersion: 'v1' });  // VAULT_ADDR and VAULT_TOKEN from the environment
  const plainVerbs = nodeVault({ apiVersion: 'v1', noCustomHTTPVerbs: true });  // LIST as GET ?list=1

  const health = await vault.health();
  assert.equal(health.initialized, true);
  assert.equal(health.sealed, false);

  await vault.mount({ mount_point: mount, type: 'pki', description: 'node-vault test' });
  const mounts = await vault.mounts();
  assert.equal(mounts.data[mount + '/'].type, 'pki');

  const root = await vault.write(mount + '/root/generate/internal',
                                 { common_name: 'Node Root', key_type: 'ec', key_bits: 256, ttl: '720h' });
  assert.match(root.data.certificate, /^-----BEGIN CERTIFICATE-----/);
  assert.equal(root.data.issuing_ca, root.data.certificate);
  assert.ok(root.data.issuer_id);

  // Role: write, patch (node-vault's update sends PATCH with application/merge-patch+json), read, list.
  const written = await vault.write(mount + '/roles/node-web', {
    allowed_domains: ['example.com'], allow_subdomains: true, key_type: 'ec', key_bits: 256, max_ttl: '24h',
  });
  assert.ok(written === undefined || written === '' || typeof written === 'object');
  await vault.update(mount + '/roles/node-web', { max_ttl: '48h', organization: ['Node Org'] });
  const role = await vault.read(mount + '/roles/node-web');
  assert.equal(role.data.max_ttl, 48 * 3600);
  assert.deepEqual(role.data.allowed_domains, ['example.com']);
  assert.deepEqual(role.data.organization, ['Node Org']);
  assert.equal(role.data.allow_subdomains, true);
  await vault.write(mount + '/roles/node-spare', { allow_any_name: true });
  const listed = await vault.list(mount + '/roles');
  assert.deepEqual(listed.data.keys, ['node-spare', 'node-web']);
  const listedPlain = await plainVerbs.list(mount + '/roles');
  assert.deepEqual(listedPlain.data.keys, listed.data.keys);

  // Issue, read back, revoke.
  const issued = await vault.write(mount + '/issue/node-web',
                                   { common_name: 'app.example.com', alt_names: 'api.example.com', ttl: '1h' });
  const d = issued.data;
  assert.equal(d.private_key_type, 'ec');
  assert.deepEqual(d.ca_chain, [root.data.certificate]);
  assert.equal(d.issuing_ca, root.data.certificate);
  assert.equal(typeof d.expiration, 'number');
  const stored = await vault.read(mount + '/cert/' + d.serial_number);
  assert.equal(stored.data.certificate.trim(), d.certificate.trim());
  assert.equal(stored.data.revocation_time, 0);
  const ca = await vault.read(mount + '/cert/ca');
  assert.equal(ca.data.certificate.trim(), root.data.certificate.trim());

  const refused = await rejects(vault.write(mount + '/issue/node-web', { common_name: 'evil.org' }), 400,
                                'common name evil.org not allowed by this role');
  assert.deepEqual(refused.response.body, { errors: ['common name evil.org not allowed by this role'] });

  const revoked = await vault.write(mount + '/revoke', { serial_number: d.serial_number });
  assert.equal(typeof revoked.data.revocation_time, 'number');
  assert.ok(revoked.data.revocation_time > 0);
  const after = await vault.read(mount + '/cert/' + d.serial_number);
  assert.equal(after.data.revocation_time, revoked.data.revocation_time);
  const revokedList = await vault.list(mount + '/certs/revoked');
  assert.deepEqual(revokedList.data.keys, [d.serial_number]);

  // Delete: 204, then the role is gone (404) and no longer listed.
  await vault.delete(mount + '/roles/node-spare');
  await rejects(vault.read(mount + '/roles/node-spare'), 404);
  assert.deepEqual((await vault.list(mount + '/roles')).data.keys, ['node-web']);

  // A bad token is refused as Vault refuses it.
  const stranger = nodeVault({ apiVersion: 'v1', token: 'not-a-token' });
  await rejects(stranger.read(mount + '/roles/node-web'), 403, 'permission denied');

  process.stdout.write(JSON.stringify({
    root: root.data.certificate,
    certificate: d.certificate,
    private_key: d.private_key,
    serial_number: d.serial_number,
    revocation_time: revoked.data.revocation_time,
  }) + '\n');
}

main().catch((err) => {
  process.stderr.write((err && err.stack) || String(err));
  process.stderr.write('\n');
  process.exit(1);
});
