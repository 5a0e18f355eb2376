"""``ztfnb app`` and ``ztfnb lab``: the Voilà apps and JupyterLab, served locally."""

import argparse
import os
import sys
from pathlib import Path

from ztfnb.cli.options import EXIT_FAILED, _Parser, _port


def _add_app(commands):
    parser = commands.add_parser(
        "app",
        help="serve the OST simulator or a night's review as a web app (Voilà)",
        description="Start a Voilà server showing one of ztfnb's apps, print its URL, and run until Ctrl-C. "
        "It binds to 127.0.0.1 unless --host says otherwise. A token is required on every interface, "
        "127.0.0.1 too: a random one, printed in the URL, unless --token or the environment variable "
        "ZTFNB_APP_TOKEN gives it; an empty token is refused. --no-token serves with no authentication, "
        "on 127.0.0.1 only. Pages load nothing from outside the server.",
    )
    apps = parser.add_subparsers(title="apps", metavar="APP", parser_class=_Parser, required=True)
    ost = apps.add_parser("ost", help="the OST far-infrared spectrometer simulator")
    review = apps.add_parser(
        "review",
        help="review a solved night's solutions; decisions go to its review.jsonl",
        description="NIGHT_DIR: the output folder of the quality notebook (metrics.ecsv, exposures.ecsv, "
        "solved/), a folder with 'ztfnb quality' output (NAME.ecsv, NAME.exposures.ecsv), or a night with "
        "solved .head files (here or in solved/), its catalogues and gaia.fits (measured on opening).",
    )
    review.add_argument("night_dir", type=Path, metavar="NIGHT_DIR")
    review.add_argument(
        "--gaia",
        type=Path,
        help="the Gaia table or HATS catalogue folder, when not found from NIGHT_DIR",
    )
    review.add_argument(
        "--log", type=Path, metavar="FILE", help="decisions file (default NIGHT_DIR/review.jsonl)"
    )
    for sub in (ost, review):
        sub.add_argument("--port", type=_port, help="default 8866, or the next free port")
        sub.add_argument(
            "--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)"
        )
        sub.add_argument(
            "--token",
            help="access token (default: $ZTFNB_APP_TOKEN, else a random one; a command line is "
            "visible to other local users, the environment is not)",
        )
        sub.add_argument(
            "--no-token",
            action="store_true",
            help="no authentication: anyone who can reach the port can decide in your name "
            "(refused off the loopback: 127.0.0.0/8, ::1, localhost)",
        )
        sub.add_argument(
            "--base-url", default="/", help="path prefix behind a reverse proxy (default /)"
        )
        sub.set_defaults(handler=_app, app=sub.prog.split()[-1])


def _app(args):
    import shutil
    import signal

    from ztfnb.webapp.server import AppServer, access_token

    # refused before a night is read or measured
    token = access_token(args.host, args.token, args.no_token)
    parameters = {}
    measured = None
    if args.app == "review":
        import tempfile

        from ztfnb.reviewlog import ReviewLog
        from ztfnb.solvedfolder import SolvedFolder

        folder = SolvedFolder.find(args.night_dir, gaia=args.gaia, log=args.log)
        if folder.metrics is None:
            # measured once here, not by every page's kernel
            print(f"ztfnb app review: measuring the solutions in {folder.heads}", flush=True)
            measured = Path(tempfile.mkdtemp(prefix="ztfnb-app-metrics-"))
            folder = folder.measured(measured)
        folder.load()  # refuse bad tables here rather than in the page
        parameters = {
            "night_dir": str(folder.root.resolve()),
            "gaia": str(folder.gaia.resolve()) if folder.gaia else "",
            "review_log": str(folder.log.resolve()),
            "metrics": str(folder.metrics.resolve()),
        }
    server = AppServer(
        args.app,
        parameters,
        host=args.host,
        port=args.port,
        token=token or None,
        base_url=args.base_url,
        no_token=not token,
    )

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C, kill and a closed terminal all stop Voilà and its kernels first
    stopping = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for signum in stopping:
        signal.signal(signum, interrupt)
    started = False
    try:
        url = server.start()
        started = True
        print(f"ztfnb app {args.app}: serving {url}", flush=True)
        if args.app == "review":
            print(f"ztfnb app review: decisions go to {parameters['review_log']}", flush=True)
            skipped = ReviewLog(parameters["review_log"]).skipped_note()
            if skipped:
                print(f"ztfnb app review: warning: {skipped}", file=sys.stderr, flush=True)
        print("ztfnb app: Ctrl-C stops it", flush=True)
        status = server.wait()
    except KeyboardInterrupt:
        status = 0
    finally:
        for signum in stopping:  # a second Ctrl-C must not leave Voilà behind
            signal.signal(signum, signal.SIG_IGN)
        if started:
            print(f"ztfnb app {args.app}: stopping", flush=True)
        server.stop()
        if measured is not None:
            shutil.rmtree(measured, ignore_errors=True)
    return 0 if status == 0 else EXIT_FAILED


def _add_lab(commands):
    parser = commands.add_parser(
        "lab",
        help="open JupyterLab on the project's notebooks/ with this interpreter's kernel",
        description="Start JupyterLab (this interpreter's, so its python3 kernel is the one ztfnb is "
        "installed in) on the project root, opening on notebooks/. The project root is the ztfnb "
        "checkout holding the working folder, else the one this package was installed from. "
        "Relative paths in the notebooks' parameters (nights/default, parameters/...) mean the same "
        "as for 'ztfnb run': under the project root. Ctrl-C stops it (JupyterLab asks first).",
    )
    parser.add_argument(
        "--port", type=_port, help="JupyterLab's port (default 8888, or the next free)"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="do not open a browser (print the URL only)"
    )
    parser.add_argument(
        "--allow-root",
        action="store_true",
        help="let JupyterLab run as root (it refuses otherwise; a container's user may be root)",
    )
    parser.add_argument(
        "--print-command",
        action="store_true",
        help="print the command line and its folder, and start nothing",
    )
    parser.add_argument(
        "jupyter_options",
        nargs=argparse.REMAINDER,
        metavar="-- JUPYTER_OPTION",
        help="further options for JupyterLab, after '--' (e.g. -- --ServerApp.ip=0.0.0.0)",
    )
    parser.set_defaults(handler=_lab)


def lab_command(root, port=None, no_browser=False, options=(), allow_root=False):
    """The command line that starts JupyterLab on ``root``, opening on ``notebooks/``.

    Parameters
    ----------
    root : path-like
        The project root.
    port : int, optional
    no_browser : bool
    options : sequence of str
        Further JupyterLab options.
    allow_root : bool

    Returns
    -------
    list of str
        ``sys.executable -m jupyterlab ...``: this interpreter's JupyterLab,
        whose ``python3`` kernel runs this interpreter.
    """
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={Path(root).resolve()}",
        "--ContentsManager.preferred_dir=notebooks",
    ]
    if port is not None:
        command.append(f"--port={port}")
    if no_browser:
        command.append("--no-browser")
    if allow_root:
        command.append("--allow-root")
    return command + list(options)


def _lab_root():
    """The checkout holding the working folder, else the one this package comes from."""
    from ztfnb.project import find_root

    for start in (Path.cwd(), Path(__file__).resolve().parent):
        root = find_root(start)
        if (root / "notebooks").is_dir() and (root / "pyproject.toml").is_file():
            return root
    raise ValueError(
        "no ztfnb checkout here or where ztfnb is installed from (a folder with pyproject.toml "
        "and notebooks/): run it in a clone of the project"
    )


def _lab(args):
    import importlib.util
    import shlex

    root = _lab_root()
    options = (
        args.jupyter_options[1:] if args.jupyter_options[:1] == ["--"] else args.jupyter_options
    )
    command = lab_command(root, args.port, args.no_browser, options, args.allow_root)
    if args.print_command:
        print(f"cd {shlex.quote(str(root))} && {shlex.join(command)}")
        return 0
    if importlib.util.find_spec("jupyterlab") is None:
        raise RuntimeError(
            f"JupyterLab is not installed for {sys.executable}: pip install jupyterlab"
        )
    print(
        f"ztfnb lab: JupyterLab on {root / 'notebooks'}, kernel python3 = {sys.executable}",
        file=sys.stderr,
        flush=True,
    )
    sys.stdout.flush()
    os.chdir(root)
    os.execv(sys.executable, command)  # JupyterLab takes this process over: Ctrl-C is its own
