// The console's queue page in a real browser (Debian's chromium through puppeteer-core),
// step by step as tests/e2e/t_66_console_browser.py asks, so that it can check each step's
// effect outside the browser (`ehlo queue list`, the sender's Maildir) before the next one.
//   node queue.cjs URL
// Reads one JSON request a line on stdin, answers each with one JSON line on stdout:
//   {"filter": {"sender": "bob@"}}   the filters set as a person types them (the others empty)
//   {"click": [ID, "bounce"]}        that button of the message's row; the page reloads
//   {"reload": true}                 the page loaded again
//   {"end": true}                    the last answer has the problems seen; then exit 0
// Each answer: {"visible": [ids shown], "rows": {id: {state, age}}, "status": "...", "dialogs": [...]}.
const puppeteer = require('puppeteer-core');
const readline = require('readline');

const [url] = process.argv.slice(2);
const problems = [];
const dialogs = [];

async function seen(page) {
  return page.evaluate(() => {
    const rows = [...document.querySelectorAll('#queue tbody tr[data-id]')];
    return {
      visible: rows.filter(r => !r.classList.contains('hidden')).map(r => r.dataset.id),
      rows: Object.fromEntries(rows.map(r => [r.dataset.id, {state: r.dataset.state, age: Number(r.dataset.age)}])),
      status: document.getElementById('status').textContent,
    };
  });
}

// Every filter field emptied, then the wanted ones typed (or chosen) as a person would.
async function filter(page, wanted) {
  await page.$$eval('#filters input', inputs => inputs.forEach(i => { i.value = ''; }));
  await page.select('select[name="state"]', wanted.state || '');
  for (const [name, value] of Object.entries(wanted))
    if (name !== 'state') await page.type(`#filters input[name="${name}"]`, String(value));
}

(async () => {
  const browser = await puppeteer.launch({executablePath: '/usr/bin/chromium', headless: true,
                                          args: ['--no-sandbox', '--disable-gpu']});
  try {
    const page = await browser.newPage();
    await page.setViewport({width: 1200, height: 800});
    page.on('console', m => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', e => problems.push(e.message));
    page.on('requestfailed', r => problems.push(`failed ${r.url()}`));
    page.on('response', r => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) problems.push(`${r.status()} ${r.url()}`); });
    // Delete and Bounce ask first: the person says yes.
    page.on('dialog', d => { dialogs.push(d.message()); d.accept(); });
    await page.goto(url + '/queue', {waitUntil: 'networkidle0'});
    const rl = readline.createInterface({input: process.stdin});
    for await (const line of rl) {
      const ask = JSON.parse(line);
      if (ask.end) {
        console.log(JSON.stringify({problems}));
        break;
      }
      if (ask.filter) {
        await filter(page, ask.filter);
      } else if (ask.click) {
        const [id, action] = ask.click;
        try {
          await Promise.all([page.waitForNavigation({waitUntil: 'networkidle0', timeout: 15000}),
                             page.click(`tr[data-id="${id}"] button[data-action="${action}"]`)]);
        } catch (e) {
          problems.push(`${action} ${id}: ${e.message}`);
        }
      } else if (ask.reload) {
        await page.reload({waitUntil: 'networkidle0'});
      }
      console.log(JSON.stringify(Object.assign(await seen(page), {dialogs})));
    }
    rl.close();
  } finally {
    await browser.close();
  }
})().catch(e => { console.error(e); process.exit(1); });
