// Debian's Chromium driven by playwright-core, for the console's browser test and bench/console.ts:
// headless, no sandbox (CI runs as root), nothing phoning home, a fresh profile per launch, and optionally
// the fake camera playing a .y4m clip.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.PINHOLE_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = (): boolean => existsSync(CHROMIUM);

export interface Launched {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(o: { fakeVideo?: string; viewport?: { width: number; height: number }; args?: string[] } = {}): Promise<Launched> {
  const profile = mkdtempSync(join(tmpdir(), 'pinhole-chromium-'));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'];
  if (o.args) args.push(...o.args);
  if (o.fakeVideo) {
    args.push('--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${o.fakeVideo}`, '--use-fake-ui-for-media-stream');
  }
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args, viewport: o.viewport ?? { width: 1280, height: 800 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A new tab on the console at `url`, once its model list has loaded; `errors` collects the page's uncaught errors. */
export async function openConsole(browser: Launched, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}/`);
  await page.waitForSelector('body[data-models="loaded"]');
  return { page, errors };
}
