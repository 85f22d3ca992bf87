// The console in a real browser (Debian's chromium through puppeteer-core), driven by
// tests/e2e/t_66_console_browser.py, which starts ehlo and reads this script's report.
//   node console.cjs URL QUEUE_ID [SCREENSHOT_DIR]
// Lines on stdout: "live-ready" when the overview waits for a new message, then one JSON
// report. Exit 0 when the script ran (the report says what was seen), 1 on a crash.
const puppeteer = require('puppeteer-core');
const readline = require('readline');

const [url, qid, shots] = process.argv.slice(2);
const report = {pages: {}, problems: []};

async function visit(browser, path, name, live) {
  const page = await browser.newPage();
  await page.setViewport({width: 1200, height: 800});
  page.on('console', m => { if (m.type() === 'error') report.problems.push(`${path}: console: ${m.text()}`); });
  page.on('pageerror', e => report.problems.push(`${path}: ${e.message}`));
  page.on('requestfailed', r => report.problems.push(`${path}: failed ${r.url()}`));
  page.on('response', r => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) report.problems.push(`${path}: ${r.status()} ${r.url()}`); });
  // A live page keeps its event stream open, so the network never goes idle: wait for its
  // first event instead.
  const response = await page.goto(url + path, {waitUntil: live ? 'load' : 'networkidle0'});
  if (live) await page.waitForFunction(() => document.querySelector('[data-live-note]').textContent.startsWith('Updated '),
                                       {timeout: 10000});
  report.pages[name] = {status: response.status(), title: await page.title(), text: await page.$eval('main', e => e.innerText),
                        // every table of the page by its id: the text of each body row's cells
                        tables: await page.$$eval('main table[id]', ts => Object.fromEntries(ts.map(t =>
                          [t.id, [...t.tBodies[0].rows].map(r => [...r.cells].map(c => c.innerText))]))),
                        headers: await page.$eval('#headers', e => e.innerText).catch(() => null),
                        raw_link: await page.$eval('#raw', e => e.getAttribute('href')).catch(() => null)};
  if (shots) await page.screenshot({path: `${shots}/${name}.png`, fullPage: true});
  return page;
}

function rowState(page, id) {
  return page.$eval(`tr[data-id="${id}"]`, r => ({state: r.dataset.state, hidden: r.classList.contains('hidden')}));
}

(async () => {
  const browser = await puppeteer.launch({executablePath: '/usr/bin/chromium', headless: true,
                                          args: ['--no-sandbox', '--disable-gpu']});
  try {
    await visit(browser, '/', 'overview', true);
    await visit(browser, `/message?id=${qid}`, 'message');
    await visit(browser, `/search?q=remote.example`, 'search');

    // The queue: hold the message with its button, the page reloads and shows it held.
    const queue = await visit(browser, '/queue', 'queue');
    report.before = await rowState(queue, qid);
    await Promise.all([queue.waitForNavigation({waitUntil: 'networkidle0'}),
                       queue.click(`tr[data-id="${qid}"] button[data-action="hold"]`)]);
    report.after_hold = await rowState(queue, qid);
    // Filters: by state, then by a destination it does not have.
    await queue.select('select[name="state"]', 'pending');
    report.filtered_pending = await rowState(queue, qid);
    await queue.select('select[name="state"]', 'held');
    report.filtered_held = await rowState(queue, qid);
    await queue.type('input[name="destination"]', 'nowhere.example');
    report.filtered_destination = await rowState(queue, qid);
    if (shots) await queue.screenshot({path: `${shots}/queue-held.png`, fullPage: true});

    // The live overview: the count of held recipients is 1; a new deferred message raises
    // the deferred count without a reload.
    const overview = await visit(browser, '/', 'overview-live', true);
    report.live_before = await overview.$eval('[data-live="deferred"]', e => e.textContent);
    console.log('live-ready');
    const rl = readline.createInterface({input: process.stdin});
    await new Promise(resolve => rl.once('line', resolve));
    rl.close();
    try {
      await overview.waitForFunction(b => document.querySelector('[data-live="deferred"]').textContent !== b,
                                     {timeout: 15000}, report.live_before);
    } catch (e) {
      report.problems.push('overview: the deferred count did not change: ' + e.message);
    }
    report.live_after = await overview.$eval('[data-live="deferred"]', e => e.textContent);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(report));
})().catch(e => { console.error(e); process.exit(1); });
