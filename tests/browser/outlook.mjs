// outlook.mjs: browser test: the whole "Mit Outlook verbinden" OAuth dance in chromium through the fake Microsoft's consent page.
//
// Usage: node tests/browser/outlook.mjs INFO.json SCREENSHOT.png
//   INFO.json: tests/lib/stack.py serve --microsoft's line (base_url, email, password, db_socket, microsoft_url).
// Logs in, presses "Mit Outlook verbinden" on the Outlook card (form POST, 303 to the fake's
// /common/oauth2/v2.0/authorize URL: the page's CSP must let that redirect through), sees the fake's
// German consent page with the account and the permissions (offline_access Calendars.ReadWrite
// User.Read), presses "Zulassen", lands back on /doctor/calendar-integrations?ok=connected with the
// notice and the Outlook card listing the account as "aktiv" with its calendars; checks the row in the
// database (provider outlook, tokens encrypted), that the fake received one code exchange with a PKCE
// verifier, and keeps a screenshot.
// Env: TF_NODE_MODULES, CHROMIUM (see harness.mjs). TAP on stdout; exit 1 on failure.
import { args, readInfo, ok, run, launch, openPage, logIn, screenshot, sqlOver, fakeShowsConsent, pressConnect,
	allowAndCheck } from './harness.mjs';

const [infoFile, shot] = args(['INFO.json', 'SCREENSHOT.png']);
const info = readInfo(infoFile);
const base = info.base_url;
const ms = info.microsoft_url;
const ACCOUNT = 'ana@contoso.com';
const sql = sqlOver(info.db_socket);

await run(async () => {
	await fakeShowsConsent(ms, 'Microsoft');
	// the fake's consent page has no icon: chromium's /favicon.ico there (404) is not the app's concern
	const { page, problems } = await openPage(await launch(), { width: 1200, height: 1000 },
		(m) => (m.location().url === `${ms}/favicon.ico` ? null : `${m.text()} (${m.location().url})`));

	// --- log in
	await logIn(page, base, info.email, info.password);
	ok(new URL(page.url()).pathname === '/doctor/calendar-integrations', 'logged in: the integrations page', page.url());

	// --- "Mit Outlook verbinden" → the fake's consent page
	const auth = await pressConnect(page, 'outlook', 'Outlook', `${ms}/common/oauth2/v2.0/authorize?**`);
	const scopes = (auth.searchParams.get('scope') || '').split(' ').sort().join(' ');
	ok(auth.origin === ms && auth.searchParams.get('code_challenge_method') === 'S256' &&
	   scopes === 'Calendars.ReadWrite User.Read offline_access',
	   'the browser is on the fake\'s authorization page (PKCE S256, offline_access Calendars.ReadWrite User.Read)',
	   page.url());
	const consent = await page.locator('body').innerText();
	ok(consent.includes('Berechtigungen angefordert') && consent.includes(ACCOUNT),
		'the consent page (German) names the account', consent.slice(0, 1000));
	ok(consent.includes('Vollzugriff auf Ihre Kalender') && consent.includes('Zugriff auf Daten beibehalten'),
		'it asks for full calendar access and offline access', consent.slice(0, 1000));

	// --- "Zulassen" → callback → the integrations page
	await allowAndCheck(page, { base, sql, provider: 'outlook', label: 'Outlook', accountLabel: 'Microsoft', account: ACCOUNT,
		fake: ms, tokenPath: '/common/oauth2/v2.0/token' });

	const size = await screenshot(page, shot);
	ok(size > 1000, `screenshot kept: ${shot}`, `size ${size}`);
	ok(problems.length === 0, 'no console errors or failed requests (e.g. CSP violations)', problems.join('\n'));
});
