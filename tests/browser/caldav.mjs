// caldav.mjs: browser test: a doctor connects the stack's Radicale through the iCloud form in chromium, chooses calendars, syncs.
//
// Usage: node tests/browser/caldav.mjs INFO.json SCREENSHOT.png
//   INFO.json: tests/lib/stack.py serve's line (base_url, email, password, slug, db_socket,
//   caldav_url, caldav_user, caldav_password, caldav_storage).
// Logs in, fills the iCloud card's form (Apple-ID, app-specific password, CalDAV address: the
// test Radicale), submits, sees the connection card with the calendars Praxis and Privat, lets
// Praxis receive appointments and Privat no longer block, saves, checks the choices on the page
// and in the database, books an appointment (the public API), presses "Jetzt synchronisieren",
// sees the notice, the last sync time and the statistics, and finds the event in Radicale's
// storage folder. Env: TF_NODE_MODULES, CHROMIUM (see harness.mjs). TAP on stdout; exit 1 on failure.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { args, readInfo, ok, run, launch, openPage, logIn, clickTo, screenshot, sqlOver, freeWeekday } from './harness.mjs';

const [infoFile, shot] = args(['INFO.json', 'SCREENSHOT.png']);
const info = readInfo(infoFile);
const base = info.base_url;
const sql = sqlOver(info.db_socket);

function icsFiles(cal) {
	try {
		return readdirSync(path.join(info.caldav_storage, cal)).filter((f) => !f.startsWith('.') && f.endsWith('.ics'));
	} catch {
		return [];
	}
}

// A weekday from the day after tomorrow on with a free time, from the public slots API.
async function freeSlot() {
	const day = await freeWeekday(base, info.slug);
	return day === null ? null : `${day.iso}T${day.slots[0]}`;
}

await run(async () => {
	const { page, problems } = await openPage(await launch(), { width: 1200, height: 1000 });

	// --- log in
	await logIn(page, base, info.email, info.password);
	ok(new URL(page.url()).pathname === '/doctor/calendar-integrations', 'logged in: the integrations page', page.url());

	// --- the iCloud form
	const form = page.locator('form#icloud-verbinden');
	ok(await form.count() === 1, 'the iCloud card has the connect form');
	ok(await form.locator('input[name="caldav_url"]').inputValue() === 'https://caldav.icloud.com',
		'the CalDAV address is prefilled with https://caldav.icloud.com');
	await form.locator('input[name="apple_id"]').fill(info.caldav_user);
	await form.locator('input[name="app_password"]').fill(info.caldav_password);
	await form.locator('input[name="caldav_url"]').fill(info.caldav_url);
	await clickTo(page, form.locator('button[type="submit"]'), '**/doctor/calendar-integrations?ok=connected*', 60000);
	let body = await page.locator('body').innerText();
	ok(body.includes('Der Kalender wurde verbunden.'), 'submitting shows "Der Kalender wurde verbunden."', body.slice(0, 1500));

	const card = page.locator('.provider-apple li.connection').first();
	ok(await card.count() === 1, 'the iCloud card lists the connection');
	const cardText = await card.innerText();
	ok(cardText.includes(info.caldav_user) && cardText.includes('aktiv'), 'the card shows the account and "aktiv"', cardText);
	const names = await card.locator('.calname').allInnerTexts();
	ok(JSON.stringify(names.map((s) => s.trim()).sort()) === JSON.stringify(['Praxis', 'Privat']),
		'the card lists the calendars Praxis and Privat', JSON.stringify(names));
	const iid = (await card.getAttribute('id')).replace('verbindung-', '');

	// --- calendar choices: Praxis receives, Privat does not block
	const calRow = (name) => card.locator('.calendar', { has: page.locator('.calname', { hasText: name }) });
	ok(await calRow('Privat').locator('input[type="checkbox"]').isChecked(), 'by default Privat blocks appointments');
	await calRow('Privat').locator('input[type="checkbox"]').uncheck();
	await calRow('Praxis').locator('input[type="radio"]').check();
	await clickTo(page, card.locator('form.calendars button[type="submit"]'), '**/doctor/calendar-integrations?ok=settings*', 15000);
	body = await page.locator('body').innerText();
	ok(body.includes('Die Kalender-Einstellungen wurden gespeichert.'), 'saving shows the notice', body.slice(0, 1500));
	ok(!(await calRow('Privat').locator('input[type="checkbox"]').isChecked()) &&
	   await calRow('Praxis').locator('input[type="checkbox"]').isChecked() &&
	   await calRow('Praxis').locator('input[type="radio"]').isChecked(),
	   'the page shows the choices: Privat not blocking, Praxis blocking and receiving');
	const rows = sql(`SELECT display_name, blocks_availability, receives_appointments FROM integration_calendars WHERE integration_id = ${Number(iid)} ORDER BY display_name`);
	ok(rows === 'Praxis\t1\t1\nPrivat\t0\t0', 'the database has the choices', rows);

	// --- a booking, then "Jetzt synchronisieren"
	const start = await freeSlot();
	const br = await fetch(`${base}/api/appointments`, {
		method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ doctor: info.slug, service: 'Sprechstunde', start, duration_minutes: 30,
			patient_name: 'Bea Browser', patient_email: 'bea@example.org', create_meet: false }),
	});
	ok(br.status === 201, `a patient books ${start} (201)`, br.status);
	ok(icsFiles('praxis').length === 0, 'nothing in the Praxis calendar before the sync');
	await clickTo(page, card.locator('form[action$="/sync"] button[type="submit"]'), '**/doctor/calendar-integrations?ok=synced*', 60000);
	body = await page.locator('body').innerText();
	ok(body.includes('Die Synchronisierung ist abgeschlossen.'), 'pressing "Jetzt synchronisieren" shows the notice', body.slice(0, 1500));
	const after = await page.locator('.provider-apple li.connection').first().innerText();
	ok(/Letzte Synchronisierung\s+\d.*\d\d:\d\d Uhr/.test(after) && !after.includes('noch nie'),
		'the card shows the last sync time', after);
	ok(/\b[1-9]\d* Synchronisierungen; zuletzt 1 übertragen/.test(after), 'the statistics show the run (1 event pushed)', after);
	const files = icsFiles('praxis');
	ok(files.length === 1, 'the appointment is an event in the Radicale calendar Praxis', JSON.stringify(files));
	if (files.length === 1) {
		const text = readFileSync(path.join(info.caldav_storage, 'praxis', files[0]), 'utf8');
		ok(text.includes('SUMMARY:Termin (TerminFinder)') && !text.includes('Bea'),
			'the event says "Termin (TerminFinder)" without the patient\'s name', text);
	}

	const size = await screenshot(page, shot);
	ok(size > 1000, `screenshot kept: ${shot}`, `size ${size}`);
	ok(problems.length === 0, 'no console errors or failed requests (e.g. CSP violations)', problems.join('\n'));
});
