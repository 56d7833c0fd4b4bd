/* chat.js: the booking assistant ("Terminassistent") on /termin/{slug}: a small chat panel over POST /api/agent/chat (plain JS, no framework, no inline code; the page works without it). */
(function () {
	'use strict';

	var API = '/api/agent/chat';
	var MAX_BYTES = 1000;          /* the API's limit: 1000 bytes of UTF-8 after trimming */
	var MAX_KEPT = 60;             /* log entries kept in sessionStorage for a reload */
	var TIMEOUT_MS = 90000;        /* an LLM turn with tool calls may take a while */

	var root = document.getElementById('assistent');
	if (!root || typeof window.fetch !== 'function' || typeof window.JSON !== 'object')
		return;
	var slug = root.getAttribute('data-doctor') || '';
	if (!/^[A-Za-z0-9_-]{1,100}$/.test(slug))
		return;

	var toggle = document.getElementById('assistent-knopf');
	var panel = document.getElementById('assistent-panel');
	var log = document.getElementById('assistent-verlauf');
	var form = document.getElementById('assistent-formular');
	var input = document.getElementById('assistent-eingabe');
	var send = document.getElementById('assistent-senden');
	var status = document.getElementById('assistent-status');
	var restart = document.getElementById('assistent-neu');
	var closeBtn = document.getElementById('assistent-schliessen');
	var counter = document.getElementById('assistent-zaehler');
	if (!toggle || !panel || !log || !form || !input || !send || !status)
		return;

	var keyConv = 'tf-assistent:' + slug + ':conversation';
	var keyLog = 'tf-assistent:' + slug + ':log';
	var busy = false;
	var entries = [];

	/* ------------------------------------------------------------ storage (sessionStorage may be off) */
	function store(key, value) {
		try {
			if (value === null)
				window.sessionStorage.removeItem(key);
			else
				window.sessionStorage.setItem(key, value);
		} catch (e) { /* private mode, quota: the widget works without it */ }
	}
	function load(key) {
		try {
			return window.sessionStorage.getItem(key);
		} catch (e) {
			return null;
		}
	}
	function conversation() {
		var c = load(keyConv);
		return c && /^[A-Za-z0-9_-]{43}$/.test(c) ? c : null;
	}

	/* ------------------------------------------------------------ rendering (text only, never HTML) */
	function el(tag, cls, text) {
		var e = document.createElement(tag);
		if (cls)
			e.className = cls;
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		return e;
	}

	var WEEKDAYS = ['Sonntag', 'Montag', 'Dienstag', 'Mittwoch', 'Donnerstag', 'Freitag', 'Samstag'];

	/* "2026-11-24T14:00" → "Dienstag, 24.11.2026, 14:00 Uhr" (the practice's local time, as sent). */
	function germanStart(s) {
		var m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})/.exec(String(s || ''));
		if (!m)
			return String(s || '');
		var wd = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])).getUTCDay();
		return WEEKDAYS[wd] + ', ' + m[3] + '.' + m[2] + '.' + m[1] + ', ' + m[4] + ':' + m[5] + ' Uhr';
	}

	/* Only http(s) links (a cancel URL from the server); anything else is not linked. */
	function safeUrl(u) {
		if (typeof u !== 'string' || u === '')
			return null;
		try {
			var url = new URL(u, window.location.href);
			return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
		} catch (e) {
			return null;
		}
	}

	function appointmentBox(a) {
		var box = el('div', 'assistant-booked');
		box.appendChild(el('p', 'assistant-booked-title', 'Ihr Termin ist gebucht'));
		var dl = el('dl', 'assistant-details');
		function row(k, v) {
			if (v === undefined || v === null || v === '')
				return;
			dl.appendChild(el('dt', null, k));
			dl.appendChild(el('dd', null, v));
		}
		row('Leistung', a.service);
		row('Termin', germanStart(a.start));
		if (a.duration_minutes)
			row('Dauer', a.duration_minutes + ' Minuten');
		row('Name', a.customer_name);
		row('E-Mail', a.customer_email);
		box.appendChild(dl);
		var cancel = safeUrl(a.cancel_url);
		if (cancel) {
			var p = el('p', 'assistant-cancel');
			var link = el('a', null, 'Termin absagen');
			link.href = cancel;
			link.rel = 'nofollow';
			p.appendChild(link);
			box.appendChild(p);
		}
		box.appendChild(el('p', 'small muted', 'Die Bestätigung kommt per E-Mail.'));
		return box;
	}

	/* entry: {who: "user"|"assistant"|"error", text, appointment?} */
	function render(entry) {
		var item = el('div', 'assistant-msg assistant-' + entry.who);
		var who = entry.who === 'user' ? 'Sie' : (entry.who === 'error' ? 'Hinweis' : 'Terminassistent');
		item.appendChild(el('span', 'assistant-who', who + ':'));
		item.appendChild(el('p', 'assistant-text', entry.text));
		if (entry.appointment && typeof entry.appointment === 'object')
			item.appendChild(appointmentBox(entry.appointment));
		if (entry.who === 'error') {
			var p = el('p', 'assistant-fallback');
			var link = el('a', null, 'Zum Buchungsformular');
			link.href = '#schritt1';
			link.addEventListener('click', toForm);
			p.appendChild(link);
			item.appendChild(p);
		}
		log.appendChild(item);
		log.scrollTop = log.scrollHeight;
	}

	function add(entry, keep) {
		render(entry);
		if (!keep)
			return;
		entries.push(entry);
		if (entries.length > MAX_KEPT)
			entries = entries.slice(entries.length - MAX_KEPT);
		store(keyLog, JSON.stringify(entries));
	}

	function restore() {
		var raw = load(keyLog);
		if (!raw || !conversation())
			return;
		try {
			var list = JSON.parse(raw);
			if (!Array.isArray(list))
				return;
			list.forEach(function (e) {
				if (e && typeof e.text === 'string' && (e.who === 'user' || e.who === 'assistant')) {
					entries.push(e);
					render(e);
				}
			});
		} catch (err) { store(keyLog, null); }
	}

	/* ------------------------------------------------------------ opening and closing */
	function open() {
		panel.hidden = false;
		toggle.setAttribute('aria-expanded', 'true');
		root.classList.add('open');
		log.scrollTop = log.scrollHeight;
		input.focus();
	}
	function close(focusToggle) {
		panel.hidden = true;
		toggle.setAttribute('aria-expanded', 'false');
		root.classList.remove('open');
		if (focusToggle)
			toggle.focus();
	}
	function toForm(ev) {
		var target = document.getElementById('service') || document.getElementById('date');
		close(false);
		if (target) {
			ev.preventDefault();
			var heading = document.getElementById('schritt1');
			if (heading && heading.scrollIntoView)
				heading.scrollIntoView();
			target.focus();
		}
	}

	/* ------------------------------------------------------------ sending */
	function setBusy(on) {
		busy = on;
		send.disabled = on;
		log.setAttribute('aria-busy', on ? 'true' : 'false');
		root.classList.toggle('busy', on);
		status.textContent = on ? 'Der Terminassistent antwortet …' : '';
	}

	function retryText(resp) {
		var s = parseInt(resp.headers.get('Retry-After') || '', 10);
		if (!(s > 0))
			return 'später';
		if (s < 90)
			return 'in ' + s + ' Sekunden';
		return 'in etwa ' + Math.ceil(s / 60) + ' Minuten';
	}

	var FALLBACK = ' Sie können Ihren Termin jederzeit über das Buchungsformular unten auf dieser Seite buchen.';

	/* The German message for an error answer (or null to show the server's own message). */
	function errorText(resp, body) {
		var err = body && body.error && typeof body.error === 'object' ? body.error : {};
		var msg = typeof err.message === 'string' ? err.message : '';
		switch (resp.status) {
		case 429:
			return 'Der Terminassistent ist gerade stark gefragt. Bitte versuchen Sie es ' +
				retryText(resp) + ' erneut.' + FALLBACK;
		case 503:
			return 'Der Terminassistent ist im Moment nicht erreichbar.' + FALLBACK;
		case 409:
			store(keyConv, null);
			return (msg || 'Dieses Gespräch ist zu lang. Bitte beginnen Sie ein neues Gespräch.') +
				' Ihre nächste Nachricht beginnt ein neues Gespräch.';
		case 404:
			if (err.code === 'not_found' && conversation()) {
				store(keyConv, null);
				return 'Das bisherige Gespräch ist abgelaufen. Bitte schreiben Sie Ihre Nachricht ' +
					'noch einmal; sie beginnt ein neues Gespräch.';
			}
			return (msg || 'Diese Praxis ist nicht erreichbar.') + FALLBACK;
		case 400:
			return msg || 'Diese Nachricht konnte nicht verarbeitet werden.';
		default:
			return 'Beim Terminassistenten ist ein Fehler aufgetreten.' + FALLBACK;
		}
	}

	/* The message as the API wants it: no control characters but \n and \t, trimmed; byte length. */
	function clean(text) {
		return String(text).replace(/\r\n?/g, '\n')
			.replace(/[\u0000-\u0008\u000B-\u001F\u007F]/g, '').trim();
	}
	function utf8Length(s) {
		if (typeof TextEncoder === 'function')
			return new TextEncoder().encode(s).length;
		return unescape(encodeURIComponent(s)).length;
	}

	function updateCounter() {
		if (!counter)
			return;
		var left = MAX_BYTES - utf8Length(input.value);
		counter.textContent = left >= 0 ? 'Noch ' + left + ' Zeichen' : 'Zu lang: bitte ' + -left +
			' Zeichen kürzen';
		counter.classList.toggle('error-text', left < 0);
	}

	function submit(ev) {
		if (ev)
			ev.preventDefault();
		if (busy)
			return;
		var text = clean(input.value);
		if (text === '') {
			status.textContent = 'Bitte geben Sie eine Nachricht ein.';
			input.focus();
			return;
		}
		if (utf8Length(text) > MAX_BYTES) {
			status.textContent = 'Ihre Nachricht ist zu lang (höchstens 1000 Zeichen; kyrillische ' +
				'Buchstaben zählen doppelt). Bitte kürzen Sie sie.';
			input.focus();
			return;
		}
		var payload = { message: text, doctor: slug };
		var conv = conversation();
		if (conv)
			payload.conversation_id = conv;
		add({ who: 'user', text: text }, true);
		input.value = '';
		updateCounter();
		setBusy(true);

		var ctrl = typeof AbortController === 'function' ? new AbortController() : null;
		var timer = ctrl ? window.setTimeout(function () { ctrl.abort(); }, TIMEOUT_MS) : 0;
		var resp = null;
		window.fetch(API, {
			method: 'POST',
			headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
			body: JSON.stringify(payload),
			credentials: 'omit',
			cache: 'no-store',
			signal: ctrl ? ctrl.signal : undefined
		}).then(function (r) {
			resp = r;
			return r.json().catch(function () { return null; });
		}).then(function (body) {
			if (resp.status === 200 && body && typeof body.reply === 'string') {
				if (typeof body.conversation_id === 'string' && /^[A-Za-z0-9_-]{43}$/.test(body.conversation_id))
					store(keyConv, body.conversation_id);
				var entry = { who: 'assistant', text: body.reply };
				if (body.appointment && typeof body.appointment === 'object')
					entry.appointment = body.appointment;
				add(entry, true);
			} else {
				add({ who: 'error', text: errorText(resp, body) }, false);
				if (resp.status === 400 || resp.status === 404)
					input.value = text;
			}
		}).catch(function () {
			add({ who: 'error', text: 'Keine Verbindung zum Terminassistenten.' + FALLBACK }, false);
			input.value = text;
		}).then(function () {
			if (timer)
				window.clearTimeout(timer);
			setBusy(false);
			updateCounter();
		});
	}

	function newConversation() {
		store(keyConv, null);
		store(keyLog, null);
		entries = [];
		while (log.firstChild)
			log.removeChild(log.firstChild);
		status.textContent = 'Ein neues Gespräch beginnt mit Ihrer nächsten Nachricht.';
		input.focus();
	}

	/* ------------------------------------------------------------ wiring */
	toggle.addEventListener('click', function () {
		if (panel.hidden)
			open();
		else
			close(true);
	});
	if (closeBtn)
		closeBtn.addEventListener('click', function () { close(true); });
	root.addEventListener('keydown', function (ev) {
		if ((ev.key === 'Escape' || ev.key === 'Esc') && !panel.hidden) {
			ev.preventDefault();
			close(true);
		}
	});
	form.addEventListener('submit', submit);
	input.addEventListener('keydown', function (ev) {
		/* Enter sends, Shift+Enter is a new line (not while an input method composes) */
		if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
			ev.preventDefault();
			submit(null);
		}
	});
	input.addEventListener('input', updateCounter);
	if (restart)
		restart.addEventListener('click', newConversation);

	restore();
	updateCounter();
	document.body.classList.add('has-assistant');
	root.hidden = false;
}());
