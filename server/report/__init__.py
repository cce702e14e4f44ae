"""Session reports: what the usage guide's analysts do by hand, as one command and one page.

`load` reads exports, recordings and the original mod's files into sessions; `session` folds one
session's events and their facts (`dxbus.facts.FactDeriver`) into what the report needs;
`summary`, `bosses` and `routes` turn that into numbers; `render` writes the one offline HTML page;
`live` serves it for the running bus at `/report`; `command` is `dxbus report`.
"""
