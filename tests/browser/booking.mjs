// booking.mjs: browser test: a patient books on /termin/{slug} in Debian's chromium (playwright-core) and sees the confirmation.
//
// Usage: node tests/browser/booking.mjs INFO.json SCREENSHOT.png
//   INFO.json: tests/lib/stack.py serve's line (base_url, slug, db_socket, mail_dir).
// The patient picks the service and a date, then a free time (radio button), fills name and e-mail,
// ticks the consent box and submits; the test then checks the confirmation page, that the row is in
// the database (mariadb client over the stack's socket) and that the confirmation mail reached the
// SMTP sink's directory. Env: TF_NODE_MODULES, CHROMIUM (see harness.mjs). TAP on stdout; exit 1 on failure.
import { args, readInfo, ok, run, launch, openPage, clickTo, screenshot, sqlOver, waitForMail, freeWeekday } from './harness.mjs';

const [infoFile, shot] = args(['INFO.json', 'SCREENSHOT.png']);
const info = readInfo(infoFile);
const base = info.base_url;
const slug = info.slug;
const email = `browser-${Date.now()}@example.org`;
const patient = 'Bruno Browser-Müller';
const sql = sqlOver(info.db_socket);

// The time radio buttons on the page: [{name, value, id}] whose value carries a time (HH:MM).
async function timeRadios(page) {
	return page.$$eval('input[type="radio"]', (els) => els
		.filter((e) => /\d\d:\d\d/.test(e.value) && !e.disabled)
		.map((e) => ({ name: e.name, value: e.value, id: e.id })));
}

await run(async () => {
	// A weekday from the day after tomorrow on with free times, from the public slots API.
	const day = await freeWeekday(base, slug);
	ok(day !== null, 'the slots API offers a day with free times', 'none in the next 40 days');
	if (day === null)
		throw new Error('no day to book');

	const { page, problems } = await openPage(await launch(), { width: 1000, height: 1000 });

	const resp = await page.goto(`${base}/termin/${slug}`);
	ok(resp && resp.status() === 200, `GET /termin/${slug}: 200`, resp && resp.status());
	const lang = await page.getAttribute('html', 'lang');
	ok(lang === 'de', 'the page is German (lang="de")', lang);

	// Service: a <select name="service"> or radio buttons named service.
	if (await page.locator('select[name="service"]').count()) {
		await page.selectOption('select[name="service"]', { label: 'Sprechstunde' }).catch(
			async () => page.selectOption('select[name="service"]', { index: 0 }));
		ok(true, 'picks the service (select)');
	} else if (await page.locator('input[name="service"][type="radio"]').count()) {
		await page.locator('input[name="service"][type="radio"]').first().check();
		ok(true, 'picks the service (radio)');
	} else {
		ok(await page.locator('[name="service"]').count() > 0, 'the page offers the service',
			(await page.content()).slice(0, 2000));
	}

	// Date: fill it and ask for the free times ("Freie Zeiten anzeigen": the form reloads the page).
	const dateInput = page.locator('input[name="date"]:not([type="hidden"])');
	ok(await dateInput.count() === 1, 'the page has a date field');
	await dateInput.fill(day.iso);
	const chooser = page.locator('form:has(input[name="date"]:not([type="hidden"]))').first();
	await clickTo(page, chooser.locator('[type="submit"]').first(), null, 15000);
	ok(new URL(page.url()).searchParams.get('date') === day.iso ||
		await page.locator(`input[name="date"][value="${day.iso}"]`).count() > 0,
		`the page now shows ${day.iso}`, page.url());
	const radios = await timeRadios(page);
	ok(radios.length > 0, `free times are offered as radio buttons for ${day.iso}`, (await page.content()).slice(0, 3000));
	ok(radios.length === day.slots.length, `as many radio buttons as the slots API lists (${day.slots.length})`,
		`${radios.length}: ${JSON.stringify(radios.map((r) => r.value))}`);
	const first = day.slots[0];
	const pick = radios.find((r) => r.value.endsWith(first) || r.value.includes(`T${first}`)) || radios[0];
	ok(pick.value.includes(first), `the first radio button matches the API's first slot ${first}`, JSON.stringify(radios.slice(0, 5)));
	await page.locator(`input[type="radio"][name="${pick.name}"][value="${pick.value}"]`).check();

	// Patient: name, e-mail, consent.
	const nameField = page.locator('input[name="patient_name"], input[name="name"]').first();
	const mailField = page.locator('input[name="patient_email"], input[name="email"], input[type="email"]').first();
	await nameField.fill(patient);
	await mailField.fill(email);
	const consent = page.locator('input[type="checkbox"]').first();
	const consentText = await page.locator('body').innerText();
	ok(consentText.includes('Ich willige in die Verarbeitung meiner Daten zur Terminvereinbarung ein.'),
		'the consent text is on the page');
	ok(await consent.getAttribute('required') !== null, 'the consent box is required');
	await consent.check();

	const form = page.locator('form:has(input[type="checkbox"])').first();
	let submit = form.locator('button:has-text("buchen"), input[type="submit"][value*="buchen"]').first();
	if (await submit.count() === 0)
		submit = form.locator('[type="submit"]').last();
	await clickTo(page, submit, null, 20000);
	const body = await page.locator('body').innerText();
	ok(body.includes('Ihr Termin ist gebucht'), 'sees "Ihr Termin ist gebucht"', body.slice(0, 1500));
	const [dd, mm, yyyy] = [day.iso.slice(8, 10), day.iso.slice(5, 7), day.iso.slice(0, 4)];
	ok(body.includes(first) && (body.includes(`${dd}.${mm}.${yyyy}`) || body.includes(`${+dd}.${+mm}.${yyyy}`) ||
		body.includes(yyyy)), 'the confirmation names the date and the time', body.slice(0, 1500));
	ok(/\/termin\/absage\/[A-Za-z0-9_-]{43}/.test(await page.content()), 'the confirmation shows the cancel link');

	const size = await screenshot(page, shot);
	ok(size > 1000, `screenshot kept: ${shot}`, `size ${size}`);

	const row = sql(`SELECT COUNT(*), MIN(patient_name), MIN(status), MIN(service_name) FROM appointments WHERE patient_email = '${email}'`);
	ok(row === `1\t${patient}\tconfirmed\tSprechstunde`, 'the appointment is in the database', row);

	const mail = await waitForMail(info.mail_dir, email, 100);
	ok(mail !== null, `the confirmation mail reached the SMTP sink (${info.mail_dir})`);
	ok(mail !== null && /^Subject: /mi.test(mail) && /text\/calendar/i.test(mail),
		'... with a subject and the .ics attachment');
	ok(problems.length === 0, 'no console errors or failed requests (e.g. CSP violations)', problems.join('\n'));
});
