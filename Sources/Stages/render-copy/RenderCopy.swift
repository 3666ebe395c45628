import ArgumentParser
import CMOCopy
import CMOBasics
import CMOStageKit
import CMOHTTP
import Foundation

@main
struct RenderCopy: Stage {
    static let stageName = "render-copy"
    static let configuration = CommandConfiguration(
        commandName: stageName,
        abstract: "Render each lead's email (subject and body) from Stencil templates, with A/B variants.",
        discussion: """
            INPUT
              Lead records (person records from score-icp or any earlier stage). Template variables are the \
            record's fields (login, name, best_email, signals.commits_in_window, signals.window_days, \
            signals.repo_commit_title, snippets.why_now, ...), plus \
            campaign.* from the config's 'campaign:' mapping. 'id' is required when there are several templates.

            OUTPUT
              Each record, in input order, every field kept, plus 'copy': {subject, body, variant, template \
            {name, sha256}} and, with --llm, copy.llm {model, prompt, output}. A record is dead-lettered, never \
            half-rendered, when a printed variable is missing, null or empty without a default filter \
            (missing_variable), when the body is over --body-max-chars (body_too_long), or when the model gives \
            no usable line (llm_*). The subject is one line, cut at a word boundary to --subject-max-chars.

            TEMPLATES
              YAML files with 'subject' and 'body' (and optional 'name', 'description'), in Stencil syntax: \
            {{ name|first_name:login|default:"there" }} (the first name when the name looks like a person's and \
            is not the login, else "there": never greet by login), {% if signals.topics %}...{% endif %}. A count \
            is quoted with the window it covers ("{{ signals.commits_in_window }} commits in the last \
            {{ signals.window_days }} days"), a repository's facts from that repository (signals.repo with \
            repo_commits_in_window, repo_stars, repo_commit_title). Several --template files \
            (or a directory of *.yaml) are A/B variants; a lead's variant is SHA-256 of its id modulo the count. \
            Record data is inserted as text, never run as template code. See docs/render-copy.md.

            VARIABLES CHECKED AT START
              Before any input is read, every variable the templates use (printed or in {% if %}/{% for %}) \
            must be a key of the config's 'campaign:' mapping, a field a lead can have (the stages' fields: \
            docs/contracts.md §14), a --record-field, or a loop variable; anything else exits 78 naming the \
            template and the nearest known name ("did you mean campaign.sender_name?"). An unknown name with a \
            default filter and no near known name is a warning. After the run, a default used for more than half \
            the leads of its template is a warning.

            SIDE EFFECTS
              None without --llm. With --llm, one chat completion per record (a second one when the first \
            answer is empty or too long), --concurrency at a time.

            ENVIRONMENT
              OPENAI_BASE_URL, OPENAI_API_KEY (with --llm), CMO_LLM_MODEL, CMO_MAX_WAIT, CMO_CONCURRENCY, \
            CMO_LOG_FORMAT, CMO_DEAD_LETTER, CMO_MAX_ERRORS, NO_COLOR.

            EXIT STATUS
              0 all input accounted for (or the reader downstream closed the pipe), 1 internal error or too many \
            dead letters, 64 bad flags, 65 input is not NDJSON or no record has an id, 69 the model unreachable or \
            failing after retries, or its account without quota (insufficient_quota), 74 stdout cannot be written (disk full), 75 a model rate limit still \
            in force after retries or needing a longer wait than --max-wait, 77 API key rejected, 78 bad config, \
            a model the endpoint does not know (--llm-model, CMO_LLM_MODEL), a bad template or an unknown template \
            variable, a template without \
            the unsubscribe link under --require-unsubscribe, or copy for sending with a campaign marked \
            'example: true' (examples/campaign.yaml).

            EXAMPLES
              Preview copy from your templates, without a campaign config:
                render-copy --template templates/ < scored.ndjson | jq -r '.copy.subject'
              Copy for sending, from your own campaign (sender, unsubscribe link, templates relative to it):
                render-copy --config my-campaign.yaml < scored.ndjson > leads.ndjson
              With a "why now" line from a local model:
                OPENAI_BASE_URL=http://127.0.0.1:11434/v1 render-copy --config my-campaign.yaml --llm --llm-model llama3.1
            """,
        version: CMOVersion.string
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var http: HTTPOptions

    @Option(
        name: .customLong("template"),
        help: ArgumentHelp("A template file, or a directory of *.yaml/*.yml templates; repeat for A/B variants.", valueName: "path"))
    var templates: [String] = []

    @Option(
        help: ArgumentHelp("Longest subject in characters; longer ones are cut at a word boundary with '…' (default 78).", valueName: "n"))
    var subjectMaxChars: Int?

    @Option(help: ArgumentHelp("Longest body in characters; a longer one dead-letters the record (default 5000).", valueName: "n"))
    var bodyMaxChars: Int?

    @Flag(
        help: "Refuse templates whose body does not print the unsubscribe link unconditionally (default on when campaign.sending is true).")
    var requireUnsubscribe = false

    @Option(help: ArgumentHelp("The variable that holds the unsubscribe link (default campaign.unsubscribe_url).", valueName: "name"))
    var unsubscribeVariable: String?

    @Flag(help: "Have an OpenAI-compatible model write snippets.why_now for each record before rendering.")
    var llm = false

    @Option(help: ArgumentHelp("Chat model for --llm (default gpt-4o-mini).", valueName: "name"))
    var llmModel: String?

    @Option(help: ArgumentHelp("Longest snippets.why_now accepted from the model, in characters (default 200).", valueName: "n"))
    var whyNowMaxChars: Int?

    @Option(
        name: .customLong("record-field"),
        help: ArgumentHelp("A top-level field the input carries beyond the stages' own, that templates may use (repeatable).", valueName: "name"))
    var recordFields: [String] = []

    struct Plan {
        var renderer: CopyRenderer
        /// What the template check found worth saying (TemplateCheck).
        var templateWarnings: [String] = []
        var writer: (endpoint: OpenAIEndpoint, model: String, maxChars: Int)?
    }

    func validate() throws {
        if let subjectMaxChars, subjectMaxChars < 10 { throw ValidationError("'--subject-max-chars' must be 10 or more") }
        if let bodyMaxChars, bodyMaxChars < 1 { throw ValidationError("'--body-max-chars' must be 1 or more") }
        if let whyNowMaxChars, whyNowMaxChars < 20 { throw ValidationError("'--why-now-max-chars' must be 20 or more") }
    }

    func configure(_ settings: Settings) throws -> Plan {
        let paths = try settings.resolvePaths("template", flag: templates.isEmpty ? nil : templates)
        guard !paths.isEmpty else { throw StageFailure(.config, "no template: give --template FILE (or 'template:' in the config)") }
        let environment = CopyRenderer.makeEnvironment()
        let loaded = try TemplateSet.load(paths, environment: environment)
        var campaign: [String: Any] = [:]
        if let raw = settings.configValue("campaign") {
            guard let map = CopyRenderer.campaign(yaml: raw, environment: environment) else {
                throw StageFailure(
                    .config,
                    "config '\(settings.configPath ?? "")': 'campaign' must be a mapping (sender, product_hook, unsubscribe_url, ...)")
            }
            campaign = map
        }
        let sending = (campaign["sending"] as? Bool) ?? false
        let require = try settings.resolve("require-unsubscribe", flag: requireUnsubscribe ? true : nil, default: sending) || sending
        if require, (campaign["example"] as? Bool) == true {
            throw StageFailure(.config, CopyRenderer.exampleCampaignRefusal(campaign, configPath: settings.configPath))
        }
        let variable: String = try settings.resolve("unsubscribe-variable", flag: unsubscribeVariable, default: "campaign.unsubscribe_url")
        if require {
            try TemplateSet.checkUnsubscribe(loaded, variable: variable, campaign: campaign)
        }
        // Every template variable known before any input is read: a typo stops here (78), not after the search.
        let templateWarnings = try TemplateCheck.check(
            loaded, campaign: settings.configValue("campaign"),
            recordFields: try settings.resolve("record-field", flag: recordFields.isEmpty ? nil : recordFields) ?? [])
        let renderer = CopyRenderer(
            templates: loaded, campaign: campaign, environment: environment,
            subjectLimit: try settings.resolve("subject-max-chars", flag: subjectMaxChars, default: 78),
            bodyLimit: try settings.resolve("body-max-chars", flag: bodyMaxChars, default: 5000))
        var writer: (OpenAIEndpoint, String, Int)?
        if try settings.resolve("llm", flag: llm ? true : nil, default: false) {
            writer = (
                try OpenAIEndpoint.resolve(settings),
                try settings.resolve("llm-model", flag: llmModel, env: "CMO_LLM_MODEL", default: "gpt-4o-mini"),
                try settings.resolve("why-now-max-chars", flag: whyNowMaxChars, default: 200)
            )
        }
        return Plan(renderer: renderer, templateWarnings: templateWarnings, writer: writer)
    }

    func process(_ context: StageContext, plan: Plan) throws {
        let renderer = plan.renderer
        for w in plan.templateWarnings { context.logger.warning(w) }
        var variants: [String: Int] = [:]
        var httpOptions = http
        if httpOptions.httpCache == nil { httpOptions.httpCache = false }  // completions are POSTs: nothing to cache
        let writer = try plan.writer.map {
            WhyNowWriter(endpoint: $0.endpoint, model: $0.model, maxCharacters: $0.maxChars, http: try context.makeHTTPClient(httpOptions))
        }
        defer {
            let labels = renderer.templates.indices.map(CopyRenderer.variantLabel)
            context.extraSummary.append(("variants", .object(labels.map { JSONMember($0, .int(variants[$0] ?? 0)) })))
            if let writer { context.extraSummary += [("llm_requests", .int(writer.requests)), ("llm_retried", .int(writer.retried))] }
            for w in renderer.defaultUsage.warnings(renderer.templates) { context.logger.warning(w) }
        }
        func render(_ record: Record, whyNow: WhyNow?) throws {
            do {
                var copy = try renderer.render(record, extraSnippets: whyNow.map { ["why_now": $0.output] } ?? [:])
                copy.llm = whyNow?.json
                var out = record
                out.set("copy", copy.json)
                variants[copy.variant, default: 0] += 1
                try context.emit(out)
            } catch let failure as CopyFailure {
                if failure.code == "missing_field" {
                    context.deadLetterMissing(record, field: "id")
                } else {
                    context.deadLetter(record, code: failure.code, message: failure.message, retryable: failure.retryable)
                }
            }
        }
        if writer != nil, !renderer.usesSnippets {
            context.logger.warning("--llm: no template mentions snippets.why_now, so the model's line will not appear in the copy")
        }
        guard let writer else {
            try context.forEachRecord { try render($0, whyNow: nil) }
            return
        }
        let withVariant = { (record: Record) -> Record? in
            do {
                _ = try renderer.template(for: record)  // no model call for a record that cannot get a variant
            } catch {
                context.deadLetterMissing(record, field: "id")
                return nil
            }
            return record
        }
        try context.forEachChunk(size: max(32, 4 * writer.http.config.maxConcurrency), prepare: withVariant) { chunk in
            for (record, outcome) in zip(chunk, try writer.write(chunk)) {
                switch outcome {
                case .success(let line): try render(record, whyNow: line)
                case .failure(let f): context.deadLetter(record, code: f.code, message: f.message, retryable: f.retryable)
                }
            }
        }
    }
}
