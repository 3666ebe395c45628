import Foundation

/// The JSON shapes GitHub's REST API returns for the world's objects. URLs inside bodies point at
/// `api.github.com`/`github.com` (never the sandbox's port), so bodies are byte-identical across runs.
enum GitHubJSON {
    static let api = "https://api.github.com"
    static let web = "https://github.com"
    static let null = NSNull()

    static func opt(_ v: Any?) -> Any { v ?? null }

    /// The "simple user" summary (owners, commit authors, contributors).
    static func userSummary(_ u: WorldUser) -> [String: Any] {
        let url = "\(api)/users/\(u.login)"
        return [
            "login": u.login, "id": u.id, "node_id": u.nodeID, "type": u.type.rawValue, "site_admin": false,
            "avatar_url": "https://avatars.githubusercontent.com/u/\(u.id)?v=4", "gravatar_id": "", "url": url,
            "html_url": u.type == .bot ? "\(web)/apps/\(u.login.replacingOccurrences(of: "[bot]", with: ""))" : "\(web)/\(u.login)",
            "followers_url": "\(url)/followers", "following_url": "\(url)/following{/other_user}",
            "gists_url": "\(url)/gists{/gist_id}", "starred_url": "\(url)/starred{/owner}{/repo}",
            "subscriptions_url": "\(url)/subscriptions", "organizations_url": "\(url)/orgs", "repos_url": "\(url)/repos",
            "events_url": "\(url)/events{/privacy}", "received_events_url": "\(url)/received_events",
            "user_view_type": "public",
        ]
    }

    /// The public profile (`GET /users/{login}`).
    static func user(_ u: WorldUser, publicRepos: Int) -> [String: Any] {
        var o = userSummary(u)
        o["name"] = opt(u.name)
        o["company"] = opt(u.company)
        o["blog"] = u.blog
        o["location"] = opt(u.location)
        o["email"] = opt(u.publicEmail)
        o["hireable"] = opt(u.hireable)
        o["bio"] = opt(u.bio)
        o["twitter_username"] = opt(u.twitter)
        o["public_repos"] = publicRepos
        o["public_gists"] = u.publicGists
        o["followers"] = u.followers
        o["following"] = u.following
        o["created_at"] = WorldTime.format(u.createdAt)
        o["updated_at"] = WorldTime.format(u.updatedAt)
        return o
    }

    /// A repository (search item and `GET /repos/{o}/{r}`).
    static func repo(_ r: WorldRepo, owner: WorldUser?) -> [String: Any] {
        let url = "\(api)/repos/\(r.fullName)"
        var license: Any = null
        if let l = r.license {
            license = [
                "key": l, "name": l.uppercased(), "spdx_id": l.uppercased(), "url": "\(api)/licenses/\(l)",
                "node_id": NodeID.encode("07:License\(l.count)"),
            ]
        }
        var templates: [String: Any] = [:]
        for (key, suffix) in repoURLTemplates { templates[key] = url + suffix }
        return templates.merging([
            "id": r.id, "node_id": r.nodeID, "name": r.name, "full_name": r.fullName, "private": false,
            "owner": owner.map { userSummary($0) as Any } ?? null, "html_url": "\(web)/\(r.fullName)", "description": opt(r.description),
            "fork": r.isFork, "url": url, "commits_url": "\(url)/commits{/sha}", "contributors_url": "\(url)/contributors",
            "created_at": WorldTime.format(r.createdAt), "updated_at": WorldTime.format(r.updatedAt),
            "pushed_at": WorldTime.format(r.pushedAt), "git_url": "git://github.com/\(r.fullName).git",
            "clone_url": "\(web)/\(r.fullName).git", "homepage": opt(r.homepage), "size": r.commits.count * 37,
            "stargazers_count": r.stars, "watchers_count": r.stars, "language": opt(r.language), "has_issues": true,
            "has_projects": true, "has_wiki": true, "has_pages": false, "has_discussions": false,
            "forks_count": r.forks, "archived": r.archived, "disabled": false, "open_issues_count": r.openIssues,
            "license": license, "allow_forking": true, "is_template": false, "topics": r.topics, "visibility": "public",
            "forks": r.forks, "open_issues": r.openIssues, "watchers": r.stars, "default_branch": "main",
            "ssh_url": "git@github.com:\(r.fullName).git", "svn_url": "\(web)/\(r.fullName)", "mirror_url": null,
            "has_downloads": true,
        ]) { _, new in new }
    }

    /// The hypermedia URL templates every repository object carries (relative to its API URL).
    static let repoURLTemplates: [(String, String)] = [
        ("archive_url", "/{archive_format}{/ref}"), ("assignees_url", "/assignees{/user}"), ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"), ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"), ("compare_url", "/compare/{base}...{head}"), ("contents_url", "/contents/{+path}"),
        ("deployments_url", "/deployments"), ("downloads_url", "/downloads"), ("events_url", "/events"), ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"), ("git_refs_url", "/git/refs{/sha}"), ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"), ("issue_comment_url", "/issues/comments{/number}"), ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"), ("keys_url", "/keys{/key_id}"), ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"), ("merges_url", "/merges"), ("milestones_url", "/milestones{/number}"),
        ("notifications_url", "/notifications{?since,all,participating}"), ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"), ("stargazers_url", "/stargazers"), ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"), ("subscription_url", "/subscription"), ("tags_url", "/tags"), ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ]

    static func gitActor(_ name: String, _ email: String, _ date: Int64) -> [String: Any] {
        ["name": name, "email": email, "date": WorldTime.format(date)]
    }

    /// A commit as `GET /repos/{o}/{r}/commits` lists it.
    static func commit(_ c: WorldCommit, repo: WorldRepo, author: WorldUser?, webFlow: WorldUser?) -> [String: Any] {
        let url = "\(api)/repos/\(repo.fullName)/commits/\(c.sha)"
        let committer: [String: Any] =
            c.committedByWebFlow
            ? gitActor("GitHub", "noreply@github.com", c.date) : gitActor(c.authorName, c.authorEmail, c.date)
        let committerAccount = c.committedByWebFlow ? webFlow : author
        let empty = [String: Any]()
        let committerUser: Any =
            c.authorEmptyObject && !c.committedByWebFlow ? empty : committerAccount.map { userSummary($0) as Any } ?? null
        var parents: [[String: Any]] = []
        if let p = c.parentSHA {
            parents.append([
                "sha": p, "url": "\(api)/repos/\(repo.fullName)/commits/\(p)", "html_url": "\(web)/\(repo.fullName)/commit/\(p)",
            ])
        }
        return [
            "sha": c.sha, "node_id": NodeID.encode("06:Commit\(repo.id):\(c.sha)"),
            "commit": [
                "author": gitActor(c.authorName, c.authorEmail, c.date), "committer": committer, "message": c.message,
                "tree": ["sha": String(c.sha.reversed()), "url": "\(api)/repos/\(repo.fullName)/git/trees/\(String(c.sha.reversed()))"],
                "url": "\(api)/repos/\(repo.fullName)/git/commits/\(c.sha)", "comment_count": 0,
                "verification": [
                    "verified": c.committedByWebFlow, "reason": c.committedByWebFlow ? "valid" : "unsigned",
                    "signature": null, "payload": null, "verified_at": null,
                ],
            ],
            "url": url, "html_url": "\(web)/\(repo.fullName)/commit/\(c.sha)", "comments_url": "\(url)/comments",
            "author": c.authorEmptyObject ? empty : author.map { userSummary($0) as Any } ?? null, "committer": committerUser,
            "parents": parents,
        ]
    }

    /// GitHub's error body.
    static func error(_ status: Int, _ message: String, docs: String) -> [String: Any] {
        ["message": message, "documentation_url": docs, "status": "\(status)"]
    }
}
