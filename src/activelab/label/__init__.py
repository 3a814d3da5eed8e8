"""Label with people: a browser app whose queue an active-learning strategy fills, training in the background.

- :mod:`.project`, :mod:`.create`: a project directory (settings, store, cached feature rows); ``init_project``.
- :mod:`.data`, :mod:`.features`: reading images, texts or feature arrays; computing feature rows.
- :mod:`.store`: the SQLite store (items, append-only answers, leases, queue, model versions).
- :mod:`.trainer`, :mod:`.worker`: one refresh (an :class:`~activelab.engine.Engine` rebuilt from the answers) and the process that runs it.
- :mod:`.server`: the ASGI app (page + JSON API) and the trainer's supervisor.
- :mod:`.export`, :mod:`.labelstudio`: labels, model versions and the fitted model; Label Studio interop.

Needs the ``app`` extra (``pip install activelab[app]``: starlette, uvicorn, pillow).
"""

from .create import init_project
from .project import Project, ProjectConfig, ProjectError

__all__ = ["Project", "ProjectConfig", "ProjectError", "init_project"]
