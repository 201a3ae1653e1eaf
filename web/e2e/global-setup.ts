// Starts a real Frontdesk demo server for the browser tests: `frontdesk demo --port 0` on a fresh
// data directory. The binary is FD_E2E_BIN, or target/debug/frontdesk built here with cargo.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

function binary(): string {
  if (process.env.FD_E2E_BIN) return process.env.FD_E2E_BIN;
  console.log('e2e: cargo build -p frontdesk');
  execFileSync('cargo', ['build', '-p', 'frontdesk'], { cwd: repo, stdio: 'inherit' });
  const target = process.env.CARGO_TARGET_DIR ? resolve(repo, process.env.CARGO_TARGET_DIR) : join(repo, 'target');
  return join(target, 'debug', 'frontdesk');
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  const bin = binary();
  if (!existsSync(bin)) throw new Error(`e2e: no frontdesk binary at ${bin}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'frontdesk-e2e-'));
  const child = spawn(bin, ['demo', '--port', '0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // FRONTDESK_* variables are settings to the binary (unknown ones are an error): leave them out.
    // Webhooks may go to private addresses: webhooks.spec.ts's receiver listens on 127.0.0.1.
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FRONTDESK_'))),
      RUST_LOG: 'warn',
      FRONTDESK_SERVER__WEBHOOKS__ALLOW_PRIVATE: 'true',
    },
  });
  let log = '';
  const cleanup = () => {
    child.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  };
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`e2e: the demo server did not start:\n${log}`)), 60_000);
    const onData = (b: Buffer) => {
      log += b.toString();
      const m = /Frontdesk listening on (http:\/\/\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => fail(new Error(`e2e: the demo server exited (${code}):\n${log}`)));
  }).catch((e) => {
    cleanup();
    throw e;
  });
  const info = JSON.parse(readFileSync(join(dataDir, 'demo.json'), 'utf8'));
  process.env.FD_URL = url;
  process.env.FD_KEY = info.site_key;
  process.env.FD_ORG = info.org_id;
  process.env.FD_SITE = info.site_id;
  process.env.FD_EMAIL = info.owner_email;
  process.env.FD_PASSWORD = info.owner_password;
  // The account with the member role is part of every demo: without it the run fails (no test
  // that needs it is skipped).
  if (!info.member_email || !info.member_password) {
    cleanup();
    throw new Error('e2e: demo.json has no member account');
  }
  process.env.FD_MEMBER_EMAIL = info.member_email;
  process.env.FD_MEMBER_PASSWORD = info.member_password;
  console.log(`e2e: demo server at ${url}`);
  return async () => {
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dataDir, { recursive: true, force: true });
  };
}
