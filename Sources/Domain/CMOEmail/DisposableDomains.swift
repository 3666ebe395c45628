// The list: github.com/disposable-email-domains/disposable-email-domains, MIT,
// Copyright (c) 2016 Dustin Ingram. See docs/third-party/disposable-domains.md.

/// Known disposable (throwaway) email domains, lower-case.
///
/// The list is the data file `Email/disposable-domains.txt` (one domain a line; regenerate with
/// `bin/gen-disposable-domains`), compiled in at build time as `text` by the EmbedText build plugin
/// (`Plugins/EmbedText`), so a binary copied anywhere carries it and nothing is read at run time.
public enum DisposableDomains {
    /// The set, built at first use.
    public static let set: Set<String> = Set(text.split(separator: "\n").map(String.init))
}
