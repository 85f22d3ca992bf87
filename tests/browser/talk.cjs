// The console's "Talk SMTP" page in a real browser (Debian's chromium through puppeteer-core),
// driven by tests/e2e/t_66_console_browser.py: a whole dialog typed into the page, with a
// deliberate mistake first (HELO without a domain), then the message's link followed.
//   node talk.cjs URL [SCREENSHOT_DIR]
// Prints one JSON report of what the page showed at each step. Exit 0 when the script ran.
const puppeteer = require('puppeteer-core');

const [url, shots] = process.argv.slice(2);
const report = {steps: [], problems: []};

(async () => {
  const browser = await puppeteer.launch({executablePath: '/usr/bin/chromium', headless: true,
                                          args: ['--no-sandbox', '--disable-gpu']});
  try {
    const page = await browser.newPage();
    await page.setViewport({width: 1280, height: 900});
    page.on('console', m => { if (m.type() === 'error') report.problems.push(`console: ${m.text()}`); });
    page.on('pageerror', e => report.problems.push(e.message));
    page.on('response', r => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) report.problems.push(`${r.status()} ${r.url()}`); });
    await page.goto(url + '/talk', {waitUntil: 'networkidle0'});
    await page.waitForFunction(() => document.querySelector('#dialog').textContent.includes('S: 220'), {timeout: 15000});
    const seen = async (typed) => {
      const s = await page.evaluate(() => {
        // A note as the page shows it: its title, its words, the line it names, its RFC.
        const note = n => ({kind: n.dataset.kind, text: n.innerText, title: n.querySelector('strong').innerText,
                            words: n.querySelector('p').innerText, line: n.querySelector('code')?.innerText ?? null,
                            rfc: n.querySelector('.rfc')?.innerText ?? ''});
        const suggested = document.querySelector('#suggestion .tnote');
        return {
          dialog: document.querySelector('#dialog').innerText,
          notes: [...document.querySelectorAll('#notes .tnote')].map(note),
          suggestion: document.querySelector('#suggestion').innerText,
          next: suggested ? note(suggested) : null,
          phase: document.querySelector('#talk-form').dataset.phase,
          disabled: document.querySelector('#talk-line').disabled,
          result: [...document.querySelectorAll('#talk-result a')].map(a => a.dataset.queueId),
        };
      });
      s.typed = typed;
      report.steps.push(s);
    };
    await seen(null);
    const lines = ['HELO', 'EHLO client.example', 'MAIL FROM:<me@example.org>', 'RCPT TO:<alice@example.test>', 'DATA',
                   'Subject: typed in a browser', '', 'Hello from the Talk SMTP page.', '.'];
    for (const line of lines) {
      const before = await page.$eval('#dialog', d => d.children.length);
      await page.click('#talk-line', {clickCount: 3});
      if (line) await page.type('#talk-line', line);
      await Promise.all([page.waitForResponse(r => r.url().includes('/api/v1/talk/')), page.keyboard.press('Enter')]);
      await page.waitForFunction(n => document.querySelector('#dialog').children.length > n, {timeout: 15000}, before);
      await seen(line);
    }
    if (shots) await page.screenshot({path: `${shots}/talk.png`, fullPage: true});
    await page.type('#talk-line', 'QUIT');
    await Promise.all([page.waitForResponse(r => r.url().includes('/api/v1/talk/')), page.keyboard.press('Enter')]);
    await page.waitForFunction(() => document.querySelector('#talk-line').disabled, {timeout: 15000});
    await seen('QUIT');
    // The link at the end leads to where the message went.
    const link = await page.$('#talk-result a');
    if (link) {
      await Promise.all([page.waitForNavigation({waitUntil: 'networkidle0'}), link.click()]);
      report.message_page = await page.$eval('main', e => e.innerText);
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(report));
})().catch(e => { console.error(e); process.exit(1); });
