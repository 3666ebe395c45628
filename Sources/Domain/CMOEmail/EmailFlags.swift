import CMOBasics
import Foundation

/// Flags from data: role accounts, disposable domains, free-mail providers, no-reply addresses.
public struct EmailFlags: Sendable, Equatable {
    public var role = false
    public var disposable = false
    public var free = false
    public var noreply = false

    public init(role: Bool = false, disposable: Bool = false, free: Bool = false, noreply: Bool = false) {
        self.role = role
        self.disposable = disposable
        self.free = free
        self.noreply = noreply
    }

    /// The flags of a parsed address. The local part is compared case-insensitively, without `+tag`.
    public init(_ address: EmailAddress) {
        let base = EmailLists.baseLocal(address.local)
        noreply = EmailLists.isNoreply(local: base, domain: address.domain)
        role = EmailLists.isRole(local: base)
        disposable = EmailLists.isDisposable(address.domain)
        free = EmailLists.isFreeMail(address.domain)
    }

    /// Best-effort flags for text that failed the syntax check (GitHub bot addresses such as
    /// `1+dependabot[bot]@users.noreply.github.com` are not valid dot-atoms but are still no-reply).
    public init(raw text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let at = t.lastIndex(of: "@") else {
            self.init()
            return
        }
        var domain = t[t.index(after: at)...].lowercased()
        if domain.hasSuffix(".") { domain.removeLast() }
        self.init(EmailAddress(local: String(t[..<at]), domain: domain))
    }

    public var json: JSONValue {
        .object([
            JSONMember("role", .bool(role)), JSONMember("disposable", .bool(disposable)),
            JSONMember("free", .bool(free)), JSONMember("noreply", .bool(noreply)),
        ])
    }
}

/// The lists behind `EmailFlags`.
public enum EmailLists {
    /// Role-account local parts: RFC 2142's service mailboxes plus the names industry lists flag
    /// (see reference apis.md §6.4). Compared after lower-casing and stripping `+tag`.
    public static let roleAccounts: Set<String> = [
        // RFC 2142
        "info", "marketing", "sales", "support", "abuse", "noc", "security", "postmaster", "hostmaster",
        "usenet", "news", "webmaster", "www", "uucp", "ftp",
        // common industry lists
        "admin", "administrator", "billing", "contact", "help", "hello", "hr", "jobs", "careers", "office",
        "team", "all", "everyone", "list", "media", "press", "privacy", "legal", "orders", "accounts",
        "enquiries", "inquiries", "feedback", "root", "sysadmin", "tech", "no-reply", "noreply",
        "mailer-daemon", "subscribe", "unsubscribe", "remove", "spam", "dev", "devnull", "newsletter",
        "do-not-reply", "donotreply", "notifications", "engineering", "sysadmins", "it", "ops", "devops",
    ]

    /// Role words whose addresses stay role addresses whatever is added to them after a separator
    /// (`support.eu`, `sales-emea`, `noreply-ci`) or before one (`eu-sales`, `acme-support`): a person's
    /// own address does not start or end with them.
    public static let roleStems: Set<String> = [
        "info", "marketing", "sales", "support", "abuse", "noc", "security", "postmaster", "hostmaster", "webmaster", "admin",
        "administrator", "billing", "contact", "help", "helpdesk", "careers", "jobs", "office", "press", "privacy", "legal", "orders",
        "accounts", "enquiries", "inquiries", "feedback", "sysadmin", "sysadmins", "no-reply", "noreply", "do-not-reply", "donotreply",
        "mailer-daemon", "notifications", "notification", "newsletter", "unsubscribe", "subscribe", "engineering", "devops",
    ]

    /// Whether a local part (lower-cased, without `+tag`) is a role account's, by its shape: a role
    /// word alone (`support`), followed by digits (`support547`, `admin2`), or joined by `-`, `_` or
    /// `.` to a suffix or prefix (`noreply-ci`, `info.team`, `sales-eu`, `eu-sales`). Short or common
    /// words (`dev`, `it`, `hr`, `team`, `hello`) count alone or with digits only: `dev.alex` is a person.
    public static func isRole(local base: String) -> Bool {
        if roleAccounts.contains(base) { return true }
        let undigited = String(base.reversed().drop(while: \.isNumber).reversed())
        if undigited != base, !undigited.isEmpty {
            let stem = undigited.last.map { "-_.".contains($0) } == true ? String(undigited.dropLast()) : undigited
            if roleAccounts.contains(stem) { return true }
        }
        let separators: Set<Character> = ["-", "_", "."]
        // A stem that is a role word on its own (noreply-ci, info.team, acme-support); the compound
        // stems with a hyphen (no-reply-x, do-not-reply.y) are tried whole first.
        for stem in roleStems where base.count > stem.count {
            if base.hasPrefix(stem), separators.contains(base[base.index(base.startIndex, offsetBy: stem.count)]) { return true }
            if base.hasSuffix(stem), separators.contains(base[base.index(base.endIndex, offsetBy: -stem.count - 1)]) { return true }
        }
        return false
    }

    /// Free-mail providers: exact domains, plus families matched on their first label (yahoo.*, …).
    public static let freeMailDomains: Set<String> = [
        "gmail.com", "googlemail.com", "outlook.com", "live.com", "msn.com", "icloud.com", "me.com", "mac.com",
        "aol.com", "proton.me", "protonmail.com", "pm.me", "web.de", "mail.ru", "inbox.ru", "bk.ru", "list.ru",
        "qq.com", "163.com", "126.com", "yeah.net", "sina.com", "zoho.com", "fastmail.com", "fastmail.fm",
        "tutanota.com", "tuta.io", "mail.com", "hey.com", "rediffmail.com", "naver.com", "daum.net",
        "seznam.cz", "wp.pl", "o2.pl", "interia.pl", "libero.it", "virgilio.it", "orange.fr", "free.fr",
        "laposte.net", "t-online.de", "freenet.de", "ukr.net", "rambler.ru", "foxmail.com", "duck.com",
    ]
    /// First labels of provider families with many country domains (yahoo.co.uk, hotmail.fr, gmx.net …).
    public static let freeMailFamilies: Set<String> = ["yahoo", "hotmail", "gmx", "yandex", "ymail", "outlook", "live"]

    /// The local part lower-cased, without a `+tag`.
    public static func baseLocal(_ local: String) -> String {
        var l = local.lowercased()
        if l.hasPrefix("\""), l.hasSuffix("\""), l.count >= 2 { l = String(l.dropFirst().dropLast()) }
        if let plus = l.firstIndex(of: "+"), plus != l.startIndex { l = String(l[..<plus]) }
        return l
    }

    /// GitHub's `users.noreply.github.com` (and any `noreply.` host), or a no-reply local part.
    public static func isNoreply(local base: String, domain: String) -> Bool {
        if domain == "users.noreply.github.com" || domain.hasPrefix("noreply.") || domain.hasSuffix(".noreply.github.com") { return true }
        let squashed = base.filter { $0 != "-" && $0 != "_" && $0 != "." }
        return squashed.hasPrefix("noreply") || squashed.hasPrefix("donotreply") || squashed == "mailerdaemon"
    }

    /// The domain or one of its parents is on the disposable list.
    public static func isDisposable(_ domain: String) -> Bool {
        var d = Substring(domain)
        while true {
            if DisposableDomains.set.contains(String(d)) { return true }
            guard let dot = d.firstIndex(of: ".") else { return false }
            d = d[d.index(after: dot)...]
            if !d.contains(".") { return false }
        }
    }

    public static func isFreeMail(_ domain: String) -> Bool {
        if freeMailDomains.contains(domain) { return true }
        let first = domain.split(separator: ".").first.map(String.init) ?? ""
        return freeMailFamilies.contains(first) && domain.split(separator: ".").count <= 3
    }
}
