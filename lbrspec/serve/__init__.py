"""The web explorer behind ``lbrspec serve``: a session (:mod:`.session`), the machines' control
diagrams (:mod:`.control`), the local HTTP server with its access rules (:mod:`.http`) and the
page itself (``static/``: HTML, one script, one style sheet; no library, nothing fetched from
elsewhere)."""
