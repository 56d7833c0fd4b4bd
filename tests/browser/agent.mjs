// agent.mjs: browser test: a patient books through the chat widget ("Terminassistent", www/chat.js) on /termin/{slug} in Debian's chromium (playwright-core).
//
// Usage: node tests/browser/agent.mjs INFO.json SHOTDIR
//   INFO.json: tests/lib/stack.py serve's line (base_url, slug, doctor_id, db_socket, mail_dir).
//   SHOTDIR: where the screenshots go (agent-booked.png, agent-mobile.png, agent-fallback.png).
// Real stack (nginx + FastCGI + MariaDB + SMTP sink), the offline assistant (no LLM configured):
//   - without JavaScript the page is exactly the booking form (the widget's markup stays hidden);
//   - the button opens the panel (aria-expanded, focus in the input), Escape closes it (focus back);
//   - "Ich möchte morgen einen Termin" (or the first day with free times, from the slots API, when
//     tomorrow is a public holiday) → the reply offers free times that the slots API lists; the
//     conversation_id is kept in sessionStorage; "Um HH:MM passt. Max Mustermann, E-MAIL" → booked:
//     the widget shows the appointment with its cancel link; the row in appointments, the
//     conversation in agent_conversations/agent_messages, and the confirmation mail in the sink;
//   - a reload keeps the conversation; replies are text, never HTML; 503, 429 and a network error
//     (answers injected with page.route) give the German pointer to the booking form;
//   - a narrow (mobile) viewport: the panel fits; no console errors or CSP violations.
// Env: TF_NODE_MODULES, CHROMIUM (see harness.mjs). TAP on stdout; exit 1 on failure.
import path from 'node:path';
import { args, readInfo, ok, run, launch, openPage, screenshot, sqlOver, waitForMail, slotsOf } from './harness.mjs';

const [infoFile, shotDir] = args(['INFO.json', 'SHOTDIR']);
const info = readInfo(infoFile);
const base = info.base_url;
const slug = info.slug;
const doctorId = parseInt(info.doctor_id, 10);
const email = `widget-${Date.now()}@example.org`;
const patient = 'Max Mustermann';
const TZ = 'Europe/Berlin';
const sql = sqlOver(info.db_socket);

// "YYYY-MM-DD" of a Date in the practice's zone.
function localDate(d) {
	return new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}
// "YYYY-MM-DDTHH:MM" of a UTC "YYYY-MM-DD HH:MM:SS" (as MariaDB prints start_utc) in the practice's zone.
function utcToLocal(s) {
	const d = new Date(String(s).replace(' ', 'T') + 'Z');
	if (Number.isNaN(d.getTime()))
		return '';
	const p = Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone: TZ, year: 'numeric', month: '2-digit',
		day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(d).map((x) => [x.type, x.value]));
	return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}
function addDays(iso, k) {
	const d = new Date(`${iso}T12:00:00Z`);
	d.setUTCDate(d.getUTCDate() + k);
	return d.toISOString().slice(0, 10);
}

// "8:00", "08:00", "10:30 Uhr", "2:00 PM" (not "22.11", a date) → ["08:00", "10:30", "14:00"] (as the slots API writes them).
function timesIn(text) {
	const out = new Set();
	for (const m of text.matchAll(/\b(\d{1,2}):(\d{2})(\s*([AaPp])\.?[Mm]\.?)?/g)) {
		let h = +m[1];
		if (m[4]) {
			const pm = m[4].toLowerCase() === 'p';
			if (h === 12)
				h = pm ? 12 : 0;
			else if (pm)
				h += 12;
		}
		if (h < 24 && +m[2] < 60)
			out.add(`${String(h).padStart(2, '0')}:${m[2]}`);
	}
	return [...out];
}

// Send one message through the widget (Enter in the input) and wait for the answer (assistant or error entry).
async function say(page, text) {
	const before = await page.locator('#assistent-verlauf .assistant-msg').count();
	await page.fill('#assistent-eingabe', text);
	await page.press('#assistent-eingabe', 'Enter');   // Enter sends (the first message used the button)
	await page.waitForFunction((k) => document.querySelectorAll(
		'#assistent-verlauf .assistant-assistant, #assistent-verlauf .assistant-error').length > 0 &&
		document.querySelectorAll('#assistent-verlauf .assistant-msg').length >= k + 2 &&
		!document.getElementById('assistent-senden').disabled, before, { timeout: 60000 });
	const last = page.locator('#assistent-verlauf .assistant-msg').last();
	return { cls: await last.getAttribute('class'), text: await last.locator('.assistant-text').innerText() };
}

await run(async () => {
	// The practice opens every day 08:00-18:00, so "morgen" has times (unless a public holiday).
	ok(doctorId > 0, `the stack's doctor id (${info.doctor_id})`);
	sql(`DELETE FROM opening_hours WHERE doctor_id = ${doctorId}; ` +
	    `INSERT INTO opening_hours (doctor_id, weekday, start_minute, end_minute) VALUES ` +
	    [1, 2, 3, 4, 5, 6, 7].map((w) => `(${doctorId}, ${w}, 480, 1080)`).join(', '));
	const services = sql(`SELECT name, duration_minutes FROM services WHERE doctor_id = ${doctorId} AND active = 1`)
		.split('\n').filter((l) => l).map((l) => l.split('\t'));
	ok(services.length === 1, 'the practice has one active service', JSON.stringify(services));
	const [serviceName, duration] = [services[0][0], +services[0][1]];

	const tomorrow = addDays(localDate(new Date()), 1);
	let day = null;
	let slots = [];
	for (let k = 0; k < 14 && day === null; k++) {
		const iso = addDays(tomorrow, k);
		slots = await slotsOf(base, slug, iso, duration);
		if (slots.length > 0)
			day = iso;
	}
	ok(day !== null, `the slots API offers a day with free times (from ${tomorrow})`);
	if (day === null)
		throw new Error('no day to book');
	const [yyyy, mm, dd] = day.split('-');
	const firstMessage = day === tomorrow ? 'Ich möchte morgen einen Termin'
		: `Ich möchte am ${dd}.${mm}.${yyyy} einen Termin`;
	if (day !== tomorrow)
		console.log(`# ${tomorrow} has no free times (public holiday?): asking for ${day} by date`);

	const browser = await launch();

	// 1. Without JavaScript: the booking form, and the widget's markup hidden.
	{
		const ctx = await browser.newContext({ locale: 'de-DE', javaScriptEnabled: false });
		const page = await ctx.newPage();
		const r = await page.goto(`${base}/termin/${slug}`);
		ok(r && r.status() === 200, 'without JavaScript: GET /termin/SLUG 200');
		ok(await page.locator('#assistent').count() === 1 && await page.locator('#assistent').getAttribute('hidden') !== null,
			'without JavaScript: the widget markup is there but hidden');
		ok(!(await page.locator('#assistent').isVisible()) && !(await page.locator('#assistent-knopf').isVisible()),
			'without JavaScript: no chat button visible');
		ok(await page.locator('form.booking, form.choose').first().isVisible(), 'without JavaScript: the booking form is shown');
		const csp = r.headers()['content-security-policy'] || '';
		ok(/script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp), "the page's CSP allows only script-src 'self'", csp);
		const js = await fetch(`${base}/static/chat.js`);
		ok(js.status === 200 && /javascript/.test(js.headers.get('content-type') || ''),
			'/static/chat.js is served by nginx as JavaScript', `${js.status} ${js.headers.get('content-type')}`);
		await ctx.close();
	}

	// 2. With JavaScript (desktop).
	const { context, page, problems } = await openPage(browser, { width: 1100, height: 900 });
	const agentRequests = [];
	page.on('request', (q) => { if (q.url().endsWith('/api/agent/chat')) agentRequests.push(q.postData()); });

	await page.goto(`${base}/termin/${slug}`);
	const toggle = page.locator('#assistent-knopf');
	ok(await toggle.isVisible(), 'the "Terminassistent" button is visible once chat.js ran');
	ok((await toggle.innerText()).includes('Terminassistent'), 'the button is labelled "Terminassistent"');
	ok(await toggle.getAttribute('aria-expanded') === 'false' && !(await page.locator('#assistent-panel').isVisible()),
		'the panel starts closed (aria-expanded="false")');
	ok(await page.locator('form.booking, form.choose').first().isVisible(), 'the booking form is still on the page');

	await toggle.click();
	ok(await toggle.getAttribute('aria-expanded') === 'true' && await page.locator('#assistent-panel').isVisible(),
		'clicking opens the panel (aria-expanded="true")');
	ok(await page.evaluate(() => document.activeElement && document.activeElement.id) === 'assistent-eingabe',
		'focus moves to the message input');
	const labelFor = await page.locator('label[for="assistent-eingabe"]').innerText();
	ok(labelFor.trim().length > 0, `the input has a label ("${labelFor.trim()}")`);
	ok(await page.locator('#assistent-verlauf').getAttribute('aria-live') === 'polite', 'the log is aria-live="polite"');
	ok(await page.locator('#assistent-eingabe').getAttribute('maxlength') === '1000', 'the input is limited to 1000 characters');
	await page.keyboard.press('Escape');
	ok(await toggle.getAttribute('aria-expanded') === 'false' && !(await page.locator('#assistent-panel').isVisible()),
		'Escape closes the panel');
	ok(await page.evaluate(() => document.activeElement && document.activeElement.id) === 'assistent-knopf',
		'focus returns to the button');
	await toggle.click();

	// The waiting state: hold the first request back a moment to see it.
	let release;
	const held = new Promise((r) => { release = r; });
	await page.route('**/api/agent/chat', async (route) => { await held; await route.continue(); }, { times: 1 });
	await page.fill('#assistent-eingabe', firstMessage);
	await page.click('#assistent-senden');
	await page.waitForSelector('#assistent-senden:disabled', { timeout: 5000 }).catch(() => null);
	const waiting = await page.locator('#assistent-status').innerText();
	ok(await page.locator('#assistent-senden').isDisabled() && /antwortet/.test(waiting),
		`while waiting: send disabled, "${waiting}" shown`);
	ok(await page.locator('#assistent-verlauf').getAttribute('aria-busy') === 'true', 'while waiting: the log is aria-busy');
	release();
	await page.waitForFunction(() => document.querySelectorAll('#assistent-verlauf .assistant-assistant, #assistent-verlauf .assistant-error').length > 0,
		null, { timeout: 60000 });
	await page.waitForFunction(() => !document.getElementById('assistent-senden').disabled, null, { timeout: 10000 });
	const first = page.locator('#assistent-verlauf .assistant-msg').last();
	const firstCls = await first.getAttribute('class');
	const reply1 = await first.locator('.assistant-text').innerText();
	ok(/assistant-assistant/.test(firstCls), `"${firstMessage}" → an answer from the assistant`, `${firstCls}: ${reply1}`);
	const offered = timesIn(reply1);
	ok(offered.length > 0 && offered.every((t) => slots.includes(t)),
		`the reply offers free times of ${day} that the slots API lists (${offered.slice(0, 6).join(', ')})`,
		`reply: ${reply1}\nslots API: ${slots.join(' ')}`);
	const conv = await page.evaluate((s) => sessionStorage.getItem(`tf-assistent:${s}:conversation`), slug);
	ok(/^[A-Za-z0-9_-]{43}$/.test(conv || ''), 'the conversation_id is kept in sessionStorage', conv);
	ok(JSON.parse(agentRequests[0] || '{}').conversation_id === undefined && JSON.parse(agentRequests[0] || '{}').doctor === slug,
		'the first request starts a conversation for this practice', agentRequests[0]);
	ok(await page.locator('#assistent-status').innerText() === '', 'the waiting notice is gone');

	const time = offered.includes('10:00') ? '10:00' : (offered[0] || slots[0]);
	const a2 = await say(page, `Um ${time} passt. ${patient}, ${email}`);
	ok(/assistant-assistant/.test(a2.cls) && a2.text.includes(email),
		`"Um ${time} passt. ${patient}, E-MAIL" → the reply names the e-mail`, a2.text);
	ok(timesIn(a2.text).includes(time) || a2.text.includes(time.replace(/^0/, '')), `... and the time ${time}`, a2.text);
	ok(JSON.parse(agentRequests[agentRequests.length - 1] || '{}').conversation_id === conv,
		'the second request continues the conversation');
	const booked = page.locator('#assistent-verlauf .assistant-booked');
	ok(await booked.count() === 1 && await booked.isVisible(), 'the widget shows the booked appointment');
	const bookedText = (await booked.count()) ? await booked.innerText() : '';
	ok(bookedText.includes(`${dd}.${mm}.${yyyy}`) && bookedText.includes(`${time} Uhr`) && bookedText.includes(serviceName),
		'... with the service, the date and the time', bookedText);
	const cancelHref = await booked.locator('a').first().getAttribute('href').catch(() => null);
	ok(/\/termin\/absage\/[A-Za-z0-9_-]{43}$/.test(cancelHref || ''), '... and a link to its cancel URL', cancelHref);

	const size = await screenshot(page, path.join(shotDir, 'agent-booked.png'), false);
	ok(size > 1000, `screenshot kept: ${path.join(shotDir, 'agent-booked.png')}`, `size ${size}`);

	// The database: the appointment, the conversation and its messages.
	const row = sql(`SELECT COUNT(*), MIN(patient_name), MIN(status), MIN(service_name), MIN(start_utc), MIN(id) ` +
		`FROM appointments WHERE patient_email = '${email}'`).split('\t');
	ok(row[0] === '1' && row[1] === patient && row[2] === 'confirmed' && row[3] === serviceName,
		'the appointment is in the database (confirmed, the patient, the service)', row.join(' | '));
	ok(row[4] && utcToLocal(row[4]) === `${day}T${time}`, `... at ${day} ${time} ${TZ}`, `${row[4]} UTC = ${row[4] && utcToLocal(row[4])}`);
	const convRow = sql(`SELECT c.mode, c.turns, c.appointment_id, COUNT(m.id), SUM(m.role = 'assistant') FROM agent_conversations c ` +
		`JOIN agent_messages m ON m.conversation_id = c.id WHERE c.doctor_id = ${doctorId} ` +
		`AND c.token_hash = SHA2('${conv}', 256) GROUP BY c.id`).split('\t');
	ok(convRow[0] === 'offline' && convRow[1] === '2' && convRow[2] === row[5] && convRow[3] === '4' && convRow[4] === '2',
		'the conversation is stored (offline, 2 turns, 4 messages, linked to the appointment)', convRow.join(' | '));
	const meta = sql(`SELECT m.metadata FROM agent_messages m JOIN agent_conversations c ON c.id = m.conversation_id ` +
		`WHERE c.token_hash = SHA2('${conv}', 256) AND m.role = 'assistant' ORDER BY m.id DESC LIMIT 1`);
	ok(/"book_appointment"/.test(meta), "the last assistant message's metadata records book_appointment", meta.slice(0, 400));

	const mail = await waitForMail(info.mail_dir, email, 150);
	ok(mail !== null, `the confirmation mail reached the SMTP sink (${info.mail_dir})`);
	ok(mail !== null && /^Subject: /mi.test(mail) && /text\/calendar/i.test(mail), '... with a subject and the .ics attachment');

	// A reload keeps the conversation (sessionStorage): same id, the log restored.
	await page.reload();
	await page.locator('#assistent-knopf').click();
	const restored = await page.locator('#assistent-verlauf .assistant-msg').count();
	ok(restored === 4 && await page.locator('#assistent-verlauf .assistant-booked').count() === 1,
		'after a reload the log is restored (4 entries, the booking)', `${restored} entries`);
	ok(await page.evaluate((s) => sessionStorage.getItem(`tf-assistent:${s}:conversation`), slug) === conv,
		'after a reload the conversation_id is the same');
	ok(problems.length === 0, 'no console errors or failed requests so far (e.g. CSP violations)', problems.join('\n'));

	// Replies are text: markup from the server is shown, never parsed.
	await page.route('**/api/agent/chat', (route) => route.fulfill({ status: 200, contentType: 'application/json',
		body: JSON.stringify({ conversation_id: conv, mode: 'offline', tool_calls: [],
			reply: '<img src=x id=injected>Zeile 1\nZeile 2 <b>fett</b>' }) }), { times: 1 });
	const a3 = await say(page, 'Danke');
	ok(await page.locator('#injected, #assistent-verlauf b, #assistent-verlauf img').count() === 0 &&
		a3.text.includes('<img src=x id=injected>'), 'a reply with HTML is shown as text', a3.text);
	ok(a3.text.includes('Zeile 1\nZeile 2'), 'line breaks of a reply are kept', JSON.stringify(a3.text));

	// Errors: the German pointer to the booking form.
	await page.route('**/api/agent/chat', (route) => route.fulfill({ status: 503, contentType: 'application/json',
		headers: { 'Retry-After': '30' },
		body: JSON.stringify({ error: { code: 'assistant_unavailable', message: 'Der Assistent ist nicht verfügbar.' } }) }), { times: 1 });
	const e503 = await say(page, 'Hallo?');
	ok(/assistant-error/.test(e503.cls) && /nicht erreichbar/.test(e503.text) && /Buchungsformular/.test(e503.text),
		'503 → German message pointing to the booking form', e503.text);
	await page.screenshot({ path: path.join(shotDir, 'agent-fallback.png') });
	const link = page.locator('#assistent-verlauf .assistant-error a').last();
	ok(await link.getAttribute('href') === '#schritt1', 'the message links to the booking form');
	await link.click();
	ok(!(await page.locator('#assistent-panel').isVisible()) &&
		await page.evaluate(() => document.activeElement && document.activeElement.id) === 'service',
		'following it closes the panel and focuses the form');
	await page.locator('#assistent-knopf').click();
	await page.route('**/api/agent/chat', (route) => route.fulfill({ status: 429, contentType: 'application/json',
		headers: { 'Retry-After': '42' },
		body: JSON.stringify({ error: { code: 'rate_limited', message: 'Zu viele Nachrichten.' } }) }), { times: 1 });
	const e429 = await say(page, 'Hallo?');
	ok(/assistant-error/.test(e429.cls) && /42 Sekunden/.test(e429.text) && /Buchungsformular/.test(e429.text),
		'429 → German message with the wait and the booking form', e429.text);
	await page.route('**/api/agent/chat', (route) => route.abort('connectionrefused'), { times: 1 });
	const eNet = await say(page, 'Hallo?');
	ok(/assistant-error/.test(eNet.cls) && /Keine Verbindung/.test(eNet.text) && /Buchungsformular/.test(eNet.text),
		'network error → German message pointing to the booking form', eNet.text);
	ok(await page.inputValue('#assistent-eingabe') === 'Hallo?', '... and the message is kept in the input');

	// The API's limit is 1000 bytes: 600 Cyrillic letters (1200 bytes) fit the input's maxlength but
	// are refused in the widget, before sending.
	await page.fill('#assistent-eingabe', '');
	await page.evaluate(() => { document.getElementById('assistent-eingabe').value = 'ж'.repeat(600); });
	await page.click('#assistent-senden');
	const tooLong = await page.locator('#assistent-status').innerText();
	ok(/zu lang/.test(tooLong), 'a message over 1000 bytes is not sent ("zu lang")', tooLong);

	// "Neues Gespräch" forgets the conversation.
	await page.click('#assistent-neu');
	ok(await page.locator('#assistent-verlauf .assistant-msg').count() === 0 &&
		await page.evaluate((s) => sessionStorage.getItem(`tf-assistent:${s}:conversation`), slug) === null,
		'"Neues Gespräch" clears the log and the conversation_id');
	await context.close();

	// 3. Mobile: the panel fits the screen.
	const mctx = await browser.newContext({ locale: 'de-DE', viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
	const mpage = await mctx.newPage();
	await mpage.goto(`${base}/termin/${slug}`);
	await mpage.locator('#assistent-knopf').tap();
	const box = await mpage.locator('#assistent-panel').boundingBox();
	const vw = await mpage.evaluate(() => document.documentElement.clientWidth);
	ok(box && box.x >= 0 && box.x + box.width <= vw + 1 && box.y >= 0 && box.y + box.height <= 741,
		`mobile (360 px): the open panel fits the screen`, JSON.stringify(box));
	ok(await mpage.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth),
		'mobile: no horizontal scrolling');
	await mpage.screenshot({ path: path.join(shotDir, 'agent-mobile.png') });
	await mctx.close();
});
