import Foundation

// The sandbox's Instantly clock (`POST /_sandbox/instantly/advance`): day by day, the active campaigns send
// their leads on their schedule, and the world answers each lead as its seeded fate says. Every event goes to
// the truth, to the analytics and, through the matching webhooks, to the delivery queue.

/// Where one lead stands in its campaign's sequence.
struct InstantlyLeadProgress {
    /// The step to send next (1-based).
    var nextStep = 1
    /// The clock day on which the next step is due.
    var dueDay = 0
    /// Nothing more will be sent (sequence finished, replied, bounced, unsubscribed or blocked).
    var done = false
    /// Lead status (spec enum): 1 active, 3 completed, −1 bounced, −2 unsubscribed, −3 skipped.
    var status = 1
    /// `lt_interest_status` set by a reply's label (1 interested, −1 not interested, −2 wrong person, 0 out of office).
    var interest: Int?
    var replies = 0
    var lastStep: Int?
    var lastContact: Date?
    var lastReply: Date?
    var lastInterestChange: Date?
    /// When the sequence finished with every step sent or a reply (for `completed_count`).
    var completedAt: Date?
}

/// One thing that happened in the sandbox world: the payload Instantly would send, and what a bench compares.
struct InstantlyEvent {
    var type: String
    var campaignID: String
    var leadEmail: String?
    var step: Int?
    var variant: Int?
    var emailID: String?
    var timestamp: Date
    /// The webhook payload, exactly as delivered and as `webhook-events` stores it.
    var payload: [String: Any]

    /// One row of the truth.
    var truth: [String: Any] {
        var row: [String: Any] = [
            "event_type": type, "campaign_id": campaignID, "lead_email": leadEmail ?? NSNull(), "step": step ?? NSNull(),
            "variant": variant ?? NSNull(), "email_id": emailID ?? NSNull(), "timestamp": InstantlyService.stamp(timestamp),
        ]
        for key in ["bounce_type", "bounce_code", "bounce_smtp_code", "returns_on"] where payload[key] != nil { row[key] = payload[key] }
        return row
    }
}

/// What the world does with one lead, drawn once (seed, campaign, email).
struct InstantlyFate {
    enum Kind: String {
        case silent, bounce, unsubscribe, reply
        case outOfOffice = "out_of_office"
        case autoReply = "auto_reply"
    }
    var kind: Kind
    /// The step it happens after (bounces: always the first).
    var step: Int
    /// Minutes after the email was sent.
    var delayMinutes: Int
    /// For a bounce: permanent (5.x.x) or not.
    var hard = true
    var bounceCode = "5.1.1"
    var smtpCode = 550
    var bounceMessage = "The email account that you tried to reach does not exist"
    /// For a reply: the label event (`lead_interested`, …) and interest status.
    var label = "lead_neutral"
    var interest: Int?
    /// For an out-of-office: days until the person is back.
    var awayDays = 7
    /// Which of the canned texts.
    var textIndex = 0
}

/// Lead progress by lead sequence number (1, 2, …: the leads' order), in an array: the clock looks every
/// open lead up each day.
struct InstantlyProgressTable {
    private var rows: [InstantlyLeadProgress?] = []

    subscript(sequence: Int) -> InstantlyLeadProgress? {
        get { sequence >= 1 && sequence <= rows.count ? rows[sequence - 1] : nil }
        set {
            guard sequence >= 1 else { return }
            if sequence > rows.count { rows.append(contentsOf: Array(repeating: nil, count: sequence - rows.count)) }
            rows[sequence - 1] = newValue
        }
    }
}

/// Everything the clock, the webhooks and the block list keep (cleared by `POST /_sandbox/reset`).
struct InstantlyEngagement {
    /// Days advanced since the epoch.
    var day = 0
    /// By lead sequence number.
    var progress = InstantlyProgressTable()
    /// Per campaign, the positions in `leads` of its leads with an email that may still be sent something,
    /// oldest first (a campaign that ever had such a lead has a key).
    var openLeads: [String: [Int]] = [:]
    var events: [InstantlyEvent] = []
    /// Campaigns whose `campaign_completed` was sent and that have had no new lead since.
    var completedCampaigns: Set<String> = []
    var webhooks: [InstantlyWebhook] = []
    var webhookSequence = 0
    var deliveries: [InstantlyDeliveryRecord] = []
    var deliveryIndex: [String: Int] = [:]
    var blockEntries: [InstantlyBlockEntry] = []
    var blockSequence = 0
    /// Values blocked more than once (the second, third, … entry of a value).
    var blockDuplicates = 0

    var blockValues: [String] { blockEntries.map(\.value) }
}

extension InstantlyService {
    /// The Instantly clock's current time: the epoch plus the days advanced.
    var sandboxNow: Date { options.epoch.addingTimeInterval(Double(engagement.day) * 86_400) }

    /// UTC midnight of a clock day (day 0 holds the epoch).
    func dayStart(_ day: Int) -> Date {
        Date(timeIntervalSince1970: (options.epoch.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400 + Double(day) * 86_400)
    }

    /// The lead as the API's Lead schema, with what the sequence and the world did to it.
    func leadJSON(_ lead: InstantlyLead) -> [String: Any] {
        var o = lead.json(organization: world.organization)
        guard let p = engagement.progress[lead.sequence] else { return o }
        o["status"] = p.status
        o["email_reply_count"] = p.replies
        if let i = p.interest { o["lt_interest_status"] = i }
        if let s = p.lastStep {
            o["last_step_from"] = "campaign"
            o["last_step_id"] = ServiceKit.uuid(seed: seed, "instantly-step-\(lead.campaign ?? "")-\(s)")
            o["email_replied_step"] = p.replies > 0 ? s : NSNull()
        }
        if let t = p.lastContact {
            o["timestamp_last_contact"] = InstantlyService.stamp(t)
            o["last_step_timestamp_executed"] = InstantlyService.stamp(t)
        }
        if let t = p.lastReply { o["timestamp_last_reply"] = InstantlyService.stamp(t) }
        if let t = p.lastInterestChange { o["timestamp_last_interest_change"] = InstantlyService.stamp(t) }
        return o
    }

    /// `POST /_sandbox/instantly/advance {"days": N}`: moves the clock N days (1–365), sending and answering.
    func advanceClock(_ r: SandboxRequest) -> SandboxResponse {
        guard let body = ServiceKit.json(r.body) as? [String: Any] else { return Self.error(400, "body must be object") }
        if let extra = body.keys.sorted().first(where: { $0 != "days" }) {
            return Self.error(400, "body must NOT have additional properties ('\(extra)')")
        }
        guard let days = ServiceKit.int(body["days"]), (body["days"] as? NSNumber)?.doubleValue == Double(days) else {
            return Self.error(400, "body/days must be integer")
        }
        guard (1...365).contains(days) else { return Self.error(400, "body/days must be >= 1 and <= 365") }
        let from = sandboxNow
        let first = engagement.events.count
        let deliveriesBefore = engagement.deliveries.count
        for _ in 0..<days { runDay() }
        var counts: [String: Int] = [:]
        for e in engagement.events[first...] { counts[e.type, default: 0] += 1 }
        return .json(
            200,
            [
                "days": days, "from": InstantlyService.stamp(from), "to": InstantlyService.stamp(sandboxNow), "events": counts,
                "events_total": engagement.events.count - first, "deliveries_queued": engagement.deliveries.count - deliveriesBefore,
            ])
    }

    /// One day: each active campaign sends its due follow-ups, then new leads, up to its daily limit.
    private func runDay() {
        engagement.day += 1
        let day = engagement.day
        let dayStart = dayStart(day)
        var today: [InstantlyEvent] = []
        for (ci, campaign) in world.campaigns.enumerated() where campaign["status"] as? Int == 1 {
            let id = campaign["id"] as! String
            guard let members = engagement.openLeads[id] else { continue }
            let limit = campaign["daily_limit"] as? Int ?? Int.max
            let steps = ((campaign["sequences"] as? [[String: Any]])?.first?["steps"] as? [[String: Any]]) ?? []
            // Follow-ups first (`prioritize_new_leads` is false), then leads not yet started, oldest first.
            // Leads are stored in order, so position i has sequence i + 1.
            let due = members.filter { i in
                guard let p = engagement.progress[i + 1] else { return false }
                return !p.done && p.dueDay <= day
            }
            let fresh = members.filter { engagement.progress[$0 + 1] == nil && leads[$0].addedDay < day }
            if !fresh.isEmpty { engagement.completedCampaigns.remove(id) }
            var sent = 0
            for i in due + fresh {
                if sent >= limit { break }
                // Times: sends from 17:00 UTC (09:00 in the schedule's Anchorage), 20 s apart per campaign.
                let at = dayStart.addingTimeInterval(17 * 3600 + Double(sent) * 20 + Double(ci) * 2)
                if send(leadAt: i, campaign: campaign, steps: steps, day: day, at: at, into: &today) { sent += 1 }
            }
            // Nothing left to send for any of its leads: the campaign is completed (once until new leads come).
            let open = members.filter { engagement.progress[$0 + 1]?.done != true }
            engagement.openLeads[id] = open
            if open.isEmpty, !engagement.completedCampaigns.contains(id) {
                engagement.completedCampaigns.insert(id)
                let at = dayStart.addingTimeInterval(86_399)
                today.append(makeEvent("campaign_completed", campaign: campaign, lead: nil, at: at))
            }
        }
        // Stable order by time; the generation order breaks ties.
        let ordered = today.enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }.map(\.element)
        for event in ordered { record(event) }
    }

    /// Sends the lead's due step and plays its fate; false when nothing was sent (blocked).
    private func send(
        leadAt index: Int, campaign: [String: Any], steps: [[String: Any]], day: Int, at: Date, into today: inout [InstantlyEvent]
    ) -> Bool {
        let lead = leads[index]
        let email = lead.email!
        var p = engagement.progress[lead.sequence] ?? InstantlyLeadProgress()
        defer { engagement.progress[lead.sequence] = p }
        if isBlocked(email, entries: engagement.blockValues) {
            p.done = true
            p.status = -3
            return false
        }
        let step = p.nextStep
        let stepCount = max(1, steps.count)
        let fate = fate(of: email, campaign: campaign["id"] as! String, steps: stepCount)
        let emailID = ServiceKit.uuid(seed: seed, "instantly-email-\(lead.id)-\(step)")
        let subject = renderedSubject(lead, step: step, steps: steps)
        var sent = makeEvent("email_sent", campaign: campaign, lead: lead, at: at)
        sent.step = step
        sent.variant = 1
        sent.emailID = emailID
        sent.payload.merge(["step": step, "variant": 1, "is_first": step == 1, "email_id": emailID, "email_subject": subject]) { $1 }
        today.append(sent)
        p.lastStep = step
        p.lastContact = at
        let later = at.addingTimeInterval(Double(fate.delayMinutes) * 60)
        if fate.kind == .bounce && step == 1 {
            var e = makeEvent("email_bounced", campaign: campaign, lead: lead, at: later)
            e.step = step
            e.variant = 1
            e.emailID = emailID
            e.payload.merge([
                "step": step, "variant": 1, "email_id": emailID, "email_subject": subject,
                "bounce_type": fate.hard ? "hard" : "soft", "bounce_code": fate.bounceCode, "bounce_smtp_code": fate.smtpCode,
                "bounce_message": "\(fate.smtpCode) \(fate.bounceCode) \(fate.bounceMessage)",
            ]) { $1 }
            today.append(e)
            p.done = true
            p.status = -1
            return true
        }
        var stop = false
        if fate.step == step {
            switch fate.kind {
            case .silent, .bounce:
                break
            case .unsubscribe:
                var e = makeEvent("lead_unsubscribed", campaign: campaign, lead: lead, at: later)
                e.step = step
                e.variant = 1
                e.payload.merge(["step": step, "variant": 1]) { $1 }
                today.append(e)
                p.status = -2
                stop = true
            case .reply, .outOfOffice, .autoReply:
                let human = fate.kind == .reply
                let text = replyText(fate, email: email, sentAt: at)
                let replyID = ServiceKit.uuid(seed: seed, "instantly-reply-\(lead.id)-\(step)")
                var e = makeEvent(human ? "reply_received" : "auto_reply_received", campaign: campaign, lead: lead, at: later)
                e.step = step
                e.variant = 1
                e.emailID = replyID
                let replySubject = subject.hasPrefix("Re: ") ? subject : "Re: " + subject
                e.payload.merge([
                    "step": step, "variant": 1, "email_id": replyID, "email_subject": subject, "reply_subject": replySubject,
                    "reply_text": text, "reply_text_snippet": String(text.split(separator: "\n").first ?? "").prefix(100).description,
                ]) { $1 }
                if fate.kind == .outOfOffice { e.payload["returns_on"] = returnDate(fate, sentAt: at) }
                today.append(e)
                if human { p.replies += 1 }
                p.lastReply = later
                if human || fate.kind == .outOfOffice {
                    var label = makeEvent(fate.label, campaign: campaign, lead: lead, at: later.addingTimeInterval(60))
                    label.step = step
                    label.variant = 1
                    label.payload.merge(["step": step, "variant": 1]) { $1 }
                    if fate.kind == .outOfOffice { label.payload["returns_on"] = returnDate(fate, sentAt: at) }
                    today.append(label)
                    p.interest = fate.interest
                    p.lastInterestChange = later.addingTimeInterval(60)
                }
                // The seeded campaigns stop on a reply, not on an automatic one.
                if human && (campaign["stop_on_reply"] as? Bool ?? true) { stop = true }
                if !human && (campaign["stop_on_auto_reply"] as? Bool ?? false) { stop = true }
            }
        }
        if stop || step >= stepCount {
            p.done = true
            if p.status == 1 {
                p.status = 3
                p.completedAt = at
            }
        } else {
            let delay = (steps[step - 1]["delay"] as? Int) ?? options.followUpDelayDays
            p.nextStep = step + 1
            p.dueDay = day + max(1, delay)
        }
        return true
    }

    /// The common payload keys (always: timestamp, event_type, workspace, campaign_id, campaign_name), plus the
    /// lead's: lead_email, email_account, unibox_url and its own fields as extra keys.
    private func makeEvent(_ type: String, campaign: [String: Any], lead: InstantlyLead?, at: Date) -> InstantlyEvent {
        let id = campaign["id"] as! String
        var payload: [String: Any] = [
            "timestamp": InstantlyService.stamp(at), "event_type": type, "workspace": world.organization, "campaign_id": id,
            "campaign_name": campaign["name"] as? String ?? "",
        ]
        if let lead, let email = lead.email {
            let senders = campaign["email_list"] as? [String] ?? []
            for (k, v) in lead.fields where k != "payload" { payload[k] = v }
            for (k, v) in (lead.fields["payload"] as? [String: Any]) ?? [:] where payload[k] == nil { payload[k] = v }
            payload["lead_email"] = email
            payload["email"] = email
            payload["email_account"] = senders.isEmpty ? NSNull() : senders[(lead.sequence - 1) % senders.count]
            let query =
                email.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789-._~"))
                ?? email
            payload["unibox_url"] = "https://app.instantly.ai/app/unibox?thread_search=\(query)"
        }
        // The core keys always win over a lead field of the same name.
        payload["timestamp"] = InstantlyService.stamp(at)
        payload["event_type"] = type
        payload["workspace"] = world.organization
        payload["campaign_id"] = id
        payload["campaign_name"] = campaign["name"] as? String ?? ""
        return InstantlyEvent(
            type: type, campaignID: id, leadEmail: lead?.email, step: nil, variant: nil, emailID: nil, timestamp: at, payload: payload)
    }

    /// The subject as sent: the lead's `cmo_subject` for the copy-variable campaigns, the fixed one otherwise;
    /// follow-ups go in the same thread (empty subject: `Re:` of the first).
    private func renderedSubject(_ lead: InstantlyLead, step: Int, steps: [[String: Any]]) -> String {
        let variant = ((steps.indices.contains(step - 1) ? steps[step - 1] : [:])["variants"] as? [[String: Any]])?.first ?? [:]
        var subject = variant["subject"] as? String ?? ""
        if subject.isEmpty, step > 1 { return "Re: " + renderedSubject(lead, step: 1, steps: steps) }
        for (k, v) in (lead.fields["payload"] as? [String: Any]) ?? [:] {
            subject = subject.replacingOccurrences(of: "{{\(k)}}", with: "\(v)")
        }
        subject = subject.replacingOccurrences(of: "{{firstName}}", with: lead.fields["first_name"] as? String ?? "")
        return subject
    }

    /// The lead's fate in this campaign. A mailbox the world knows to be undeliverable bounces for sure (hard, or
    /// soft when its domain's DNS fails temporarily); one it knows to be deliverable never bounces.
    func fate(of email: String, campaign: String, steps: Int) -> InstantlyFate {
        var r = SeededRandom(seed: seed, stream: "instantly-fate|\(campaign)|\(email)")
        let rates = options.engagement
        let u = r.unit()
        let step = r.int(1...max(1, steps))
        let delay = r.int(20...360)
        var fate = InstantlyFate(kind: .silent, step: step, delayMinutes: delay, textIndex: r.int(0...2))
        let verdict = options.mailbox(email)
        if let v = verdict, !v.deliverable {
            fate.kind = .bounce
            fate.step = 1
            fate.delayMinutes = 2
            switch v.dns {
            case "servfail", "timeout":
                (fate.hard, fate.bounceCode, fate.smtpCode) = (false, "4.4.3", 451)
                fate.bounceMessage = "Temporary DNS failure resolving the recipient domain"
            case "nxdomain", "none":
                (fate.bounceCode, fate.smtpCode) = ("5.1.2", 550)
                fate.bounceMessage = "The recipient domain does not exist"
            case "null_mx":
                (fate.bounceCode, fate.smtpCode) = ("5.1.10", 556)
                fate.bounceMessage = "The recipient domain does not accept mail (null MX)"
            default:
                break
            }
            return fate
        }
        var edge = verdict == nil ? rates.bounceRate : 0
        if u < edge {
            fate.kind = .bounce
            fate.step = 1
            fate.delayMinutes = 2
            if r.unit() >= rates.hardBounceShare {
                (fate.hard, fate.bounceCode, fate.smtpCode) = (false, "4.2.2", 452)
                fate.bounceMessage = "The recipient's mailbox is full"
            }
            return fate
        }
        for (kind, rate) in [
            (InstantlyFate.Kind.unsubscribe, rates.unsubscribeRate), (.reply, rates.replyRate), (.outOfOffice, rates.outOfOfficeRate),
            (.autoReply, rates.autoReplyRate),
        ] {
            edge += rate
            if u < edge {
                fate.kind = kind
                break
            }
        }
        switch fate.kind {
        case .reply:
            let l = r.unit()
            if l < rates.interestedShare {
                (fate.label, fate.interest) = ("lead_interested", 1)
            } else if l < rates.interestedShare + rates.notInterestedShare {
                (fate.label, fate.interest) = ("lead_not_interested", -1)
            } else if l < rates.interestedShare + rates.notInterestedShare + rates.wrongPersonShare {
                (fate.label, fate.interest) = ("lead_wrong_person", -2)
            } else {
                (fate.label, fate.interest) = ("lead_neutral", nil)
            }
        case .outOfOffice:
            (fate.label, fate.interest) = ("lead_out_of_office", 0)
            fate.awayDays = r.int(3...21)
        default:
            break
        }
        return fate
    }

    private func returnDate(_ fate: InstantlyFate, sentAt: Date) -> String {
        String(InstantlyService.stamp(sentAt.addingTimeInterval(Double(fate.awayDays) * 86_400)).prefix(10))
    }

    /// The reply's text (several lines, as mail is).
    private func replyText(_ fate: InstantlyFate, email: String, sentAt: Date) -> String {
        let domain = email.split(separator: "@").last.map(String.init) ?? "example.com"
        let texts: [String]
        switch (fate.kind, fate.label) {
        case (.outOfOffice, _):
            let back = returnDate(fate, sentAt: sentAt)
            return "I am out of the office until \(back) with limited access to email.\nI will reply when I am back on \(back)."
        case (.autoReply, _):
            texts = [
                "Thank you for your email. This is an automatic reply to confirm we received it.",
                "This mailbox is not monitored. Your message has been received.",
                "Thanks for getting in touch! We aim to answer within two business days.",
            ]
        case (_, "lead_interested"):
            texts = [
                "Sounds interesting. Can you send more details?\nHappy to hop on a call next week.",
                "Yes, this is timely for us. What does a trial look like?",
                "Interested. Could we talk on Thursday?",
            ]
        case (_, "lead_not_interested"):
            texts = ["Not interested, thanks.", "We are all set for now.", "No thanks, please do not follow up."]
        case (_, "lead_wrong_person"):
            texts = [
                "I am not the right person for this; try ops@\(domain).", "Wrong person, sorry. I moved teams last year.",
                "You want our platform team, not me.",
            ]
        default:
            texts = [
                "Thanks for reaching out. What does it cost?", "How is this different from what GitHub offers?", "Maybe later this year.",
            ]
        }
        return texts[fate.textIndex % texts.count]
    }

    /// Stores an event and queues its deliveries.
    private func record(_ event: InstantlyEvent) {
        let index = engagement.events.count
        engagement.events.append(event)
        queueDeliveries(of: index)
    }

    /// `GET /_sandbox/instantly/truth` and `instantly_events` in `/_sandbox/truth`: every event generated, in order.
    public func truthEvents() -> [[String: Any]] { lock.withLock { engagement.events.map(\.truth) } }

    /// Counts per event type.
    func eventCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for e in engagement.events { counts[e.type, default: 0] += 1 }
        return counts
    }
}

extension InstantlyService {
    /// `2026-11-24T12:00:00.000Z` (UTC, milliseconds), as `ServiceKit.iso8601` writes it, without a formatter:
    /// an advance over 10,000 leads stamps tens of thousands of events.
    static func stamp(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ms % 1000), 3))Z"
    }
}
