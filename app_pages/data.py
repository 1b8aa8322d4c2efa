"""Data: choose the problem every other page works on, and see its basic facts."""
import inspect
import threading
from dataclasses import dataclass, field

import streamlit as st

from app_pages._shared import current_problem, problem_summary, set_problem, shipped_problem, weight_facts
from wlra_core import Problem, load_problem
from wlra_core.datasets.fisher_like import fisher_like_problem
from wlra_core.datasets.io import SUPPORTED_EXTENSIONS
from wlra_core.datasets.sources import DATASETS
from wlra_core.datasets.synthetic import GENERATORS
from wlra_core.display import doc_description
from wlra_core.options import parse_option_text

SOURCES = {
    "shipped": "Shipped Fashion-MNIST MLP",
    "tfds": "tfds dataset: train an MLP",
    "digits": "scikit-learn digits",
    "synthetic": "Synthetic",
    "upload": "Upload A and W",
}
# Uploaders accept any file: the loader names a wrong type in its one-line message, where
# Streamlit's own extension filter would raise an exception box.
UPLOAD_TYPES = None
# The teaching generators, and Fisher-like problems of any size up to the paper's largest
# kernels (n=67500, d=1024: two 550 MB matrices).
SYNTHETIC = {**GENERATORS, "fisher_like": fisher_like_problem}


# Trained problems kept in memory per server; older ones reload from the pipeline's disk cache.
KEPT_TRAINED = 4


@dataclass
class TrainedProblems:
    """This server's trained problems by (dataset, hidden, epochs), shared by every session,
    and the lock that lets one training run at a time (two would share the 2 cores and
    race to write the same cache file)."""

    problems: dict[tuple[str, int, int], Problem] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@st.cache_resource(show_spinner=False)
def trained_problems() -> TrainedProblems:
    """The server's :class:`TrainedProblems`, filled by :func:`train_with_progress` outside any
    cached function: the training draws a progress bar, and a cached function must not write
    to elements created outside it (replaying it on the next call would fail)."""
    return TrainedProblems()


@st.cache_resource(show_spinner="Generating...", max_entries=4)  # paper-sized ones take 1.1 GB each
def synthetic_problem(generator: str, params: tuple) -> Problem:
    return SYNTHETIC[generator](**dict(params))


def try_load(make, what: str) -> None:
    """Replace the current problem with ``make()``; on a ValueError keep the old one."""
    try:
        problem = make()
    except ValueError as err:
        st.error(f"Could not load {what}: {err}  \nThe previously loaded problem is kept.")
        return
    set_problem(problem)
    st.success(f"Loaded {problem.name}.")


def train_with_progress(dataset: str, hidden: int, epochs: int, download: bool) -> Problem:
    """The trained problem for these settings: from memory, else trained (or read from the
    pipeline's disk cache) under a progress bar that is removed whatever the outcome."""
    trained, settings = trained_problems(), (dataset, hidden, epochs)
    problem = trained.problems.get(settings)
    if problem is not None:
        return problem
    bar = st.progress(0.0, text=f"{dataset}: starting (importing TensorFlow)...")
    try:
        from wlra_core.datasets.pipeline import fisher_problem  # imports TensorFlow

        if trained.lock.locked():
            bar.progress(0.0, text=f"{dataset}: waiting for another training on this server to finish...")
        with trained.lock:
            if settings not in trained.problems:  # the other session may have trained it
                trained.problems[settings] = fisher_problem(
                    dataset, hidden=hidden, epochs=epochs, download=download,
                    progress=lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message))
                for oldest in list(trained.problems)[:-KEPT_TRAINED]:
                    del trained.problems[oldest]
            return trained.problems[settings]
    finally:
        bar.empty()


st.title("Data")
problem, key = current_problem()

source = st.radio("Source", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="data-source",
                  persist_state="session")

if source == "shipped":
    st.markdown("A 784 x 128 hidden kernel of an MLP trained on the real Fashion-MNIST images, with "
                "its empirical Fisher information as W. Ships with the project: no network, no training.")
    if st.button("Load the shipped problem", type="primary", key="load-shipped"):
        try_load(lambda: shipped_problem()[0], "the shipped problem")

elif source in ("tfds", "digits"):
    if source == "tfds":
        names = [name for name, spec in DATASETS.items() if spec.origin == "tfds"]
        dataset = st.selectbox("Dataset", names, index=names.index("fashion_mnist"), key="tfds-dataset",
                               persist_state="session")
        st.markdown(
            "Trains Flatten -> Dense(hidden, relu) -> Dense(classes) with TensorFlow, then computes the "
            "empirical Fisher information of the hidden kernel (the paper's section 4). Data comes from "
            "tensorflow_datasets under `data/tfds`; `fashion_mnist` falls back to Debian's "
            "dataset-fashion-mnist files. Nothing is downloaded unless you allow it below."
        )
        download = st.checkbox("Allow download (needs network; large datasets take minutes)", value=False,
                               key="tfds-download", persist_state="session")
    else:
        dataset, download = "digits", False
        st.markdown("scikit-learn's bundled 8 x 8 digits (1797 images, no download): a small MLP and its "
                    "Fisher weights in a few seconds.")
    spec = DATASETS[dataset]
    col_hidden, col_epochs = st.columns(2)
    hidden = int(col_hidden.number_input("Hidden units", min_value=1, max_value=4096, value=spec.hidden,
                                         step=1, key=f"{source}-{dataset}-hidden", persist_state="session"))
    epochs = int(col_epochs.number_input("Epochs", min_value=1, max_value=200, value=spec.epochs,
                                         step=1, key=f"{source}-{dataset}-epochs", persist_state="session"))
    if st.button("Train MLP and compute Fisher weights", type="primary", key=f"load-{source}"):
        try_load(lambda: train_with_progress(dataset, hidden, epochs, download), dataset)

elif source == "synthetic":
    generator = st.selectbox("Generator", list(SYNTHETIC), key="synthetic-generator", persist_state="session")
    function = SYNTHETIC[generator]
    st.markdown(doc_description(function))
    params = {}
    columns = st.columns(4)
    for i, (name, parameter) in enumerate(inspect.signature(function).parameters.items()):
        default = parameter.default
        widget_key = f"synthetic-{generator}-{name}"
        with columns[i % 4]:
            if isinstance(default, int) and not isinstance(default, bool):
                params[name] = int(st.number_input(name, value=default, step=1, key=widget_key, persist_state="session"))
            elif isinstance(default, float):
                params[name] = float(st.number_input(name, value=default, format="%g", key=widget_key,
                                                         persist_state="session"))
            else:
                text = st.text_input(name, value="" if default is None else str(default), key=widget_key,
                                     help=f"empty: default ({default!r})", persist_state="session")
                params[name] = parse_option_text(text, default)
    if st.button("Generate", type="primary", key="load-synthetic"):
        try_load(lambda: synthetic_problem(generator, tuple(params.items())), generator)

else:
    st.markdown(f"A as `{', '.join(SUPPORTED_EXTENSIONS)}` (a .npz may hold arrays `A` and `W`); W "
                "optional (default all ones). Files are never unpickled.")
    upload_a = st.file_uploader("Matrix A", type=UPLOAD_TYPES, key="upload-A")
    upload_w = st.file_uploader("Weights W (optional)", type=UPLOAD_TYPES, key="upload-W")

    def load_upload() -> Problem:
        """The uploaded problem; says which of a saved problem's extras were dropped."""
        problem = load_problem(upload_a, weights=upload_w)
        for warning in problem.meta.get("load_warnings", []):
            st.warning(warning)
        return problem

    if st.button("Load the uploaded files", type="primary", key="load-upload", disabled=upload_a is None):
        try_load(load_upload, "the upload")

st.divider()
problem, key = current_problem()
st.subheader("Current problem")
st.markdown(problem_summary(problem))
st.table([{"fact": name, "value": str(value)} for name, value in weight_facts(key, problem)[1].items()],
         hide_index=True, hide_header=True, width="content")
