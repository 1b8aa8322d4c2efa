"""Data: choose the problem every other page works on, and see its basic facts.

Every loader names its problem in the URL (``app_pages/_links.py``), so a reload or a
shared link loads it again, and the widgets start from the settings the URL names.
"""
import streamlit as st

from app_pages._links import (DEFAULT_TFDS, EPOCHS_RANGE, HIDDEN_RANGE, SOURCES, TFDS_DATASETS, DemoLink,
                              ShippedLink, SyntheticLink, TrainedLink, UploadLink, parameter_kind)
from app_pages._sources import keep_upload, shipped_problem, synthetic_defaults, synthetic_problem, trained_problem
from app_pages._state import current_link, loaded_problem, problem_summary, set_problem
from app_pages._views import doc_description, weight_advice, weight_facts
from wlra_core import Problem, load_problem
from wlra_core.datasets.io import SUPPORTED_EXTENSIONS
from wlra_core.datasets.masked import SAMPLE_IMAGES
from wlra_core.datasets.limits import MAX_FILE_BYTES
from wlra_core.options import parse_option_text
from wlra_core.report import info_lines

SOURCE_LABELS = {
    "shipped": "Shipped Fashion-MNIST MLP",
    "tfds": "tfds dataset: train an MLP",
    "digits": "scikit-learn digits",
    "synthetic": "Synthetic",
    "demo": "Missing entries (offline demos)",
    "upload": "Upload A and W",
}
# Parameters with a fixed set of values: a select box instead of a text field.
PARAMETER_CHOICES = {"image": SAMPLE_IMAGES}
# Uploaders accept any file: the loader names a wrong type in its one-line message, where
# Streamlit's own extension filter would raise an exception box.
UPLOAD_TYPES = None
# The uploader's limit, in Streamlit's megabytes: the loader's own limit (10^6 bytes each).
UPLOAD_MB = MAX_FILE_BYTES // 10**6
UPLOAD_LIMIT = f"{UPLOAD_MB} MB ({MAX_FILE_BYTES:,} bytes) per file"
WEIGHTS_HELP = ("NaN in A marks a missing entry: its weight is 0 (a W given with it must be 0 there). Weights enter "
                "squared, ||W o (A - X)||²: for noise of standard deviation σ use W = 1/σ, not 1/σ².")


def try_load(make, what: str, link_for) -> None:
    """Replace the current problem with ``make()``, named in the URL by ``link_for(problem)``;
    on a ValueError keep the old one."""
    try:
        problem = make()
    except ValueError as err:
        st.error(f"Could not load {what}: {err}  \nThe previously loaded problem is kept.")
        return
    set_problem(problem, link_for(problem))
    st.success(f"Loaded {problem.name}.")


def train_with_progress(dataset: str, hidden: int, epochs: int, download: bool) -> Problem:
    """The trained problem for these settings (:func:`app_pages._sources.trained_problem`),
    under a progress bar that is removed whatever the outcome -- shown only when the
    problem is not already in memory -- and the pipeline's notices as warnings."""
    bar, notices = None, []

    def progress(fraction: float, message: str) -> None:
        nonlocal bar
        if bar is None:
            bar = st.progress(0.0)
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    try:
        return trained_problem(dataset, hidden, epochs, download=download, progress=progress, notify=notices.append)
    finally:
        if bar is not None:
            bar.empty()
        for notice in notices:
            st.warning(notice, icon=":material/warning:")


st.title("Data")
link = current_link()  # the widgets start from it (a widget's start counts only when it first appears)
source = st.radio("Source", SOURCES, index=SOURCES.index(link.source), format_func=SOURCE_LABELS.get,
                  horizontal=True, key="data-source", persist_state="session")

if source == "shipped":
    st.markdown("A 784 x 128 hidden kernel of an MLP trained on the real Fashion-MNIST images, with "
                "its empirical Fisher information as W. Ships with the project: no network, no training.")
    if st.button("Load the shipped problem", type="primary", key="load-shipped"):
        try_load(shipped_problem, "the shipped problem", lambda _: ShippedLink())

elif source in ("tfds", "digits"):
    if source == "tfds":
        dataset = st.selectbox("Dataset", TFDS_DATASETS, key="tfds-dataset", persist_state="session",
                               index=TFDS_DATASETS.index(link.dataset if link.source == "tfds" else DEFAULT_TFDS))
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
    start = link if isinstance(link, TrainedLink) and link.dataset == dataset else TrainedLink.defaults(dataset)
    col_hidden, col_epochs = st.columns(2)
    hidden = int(col_hidden.number_input("Hidden units", min_value=HIDDEN_RANGE[0], max_value=HIDDEN_RANGE[1],
                                         value=start.hidden, step=1, key=f"{source}-{dataset}-hidden",
                                         persist_state="session"))
    epochs = int(col_epochs.number_input("Epochs", min_value=EPOCHS_RANGE[0], max_value=EPOCHS_RANGE[1],
                                         value=start.epochs, step=1, key=f"{source}-{dataset}-epochs",
                                         persist_state="session"))
    if st.button("Train MLP and compute Fisher weights", type="primary", key=f"load-{source}"):
        try_load(lambda: train_with_progress(dataset, hidden, epochs, download), dataset,
                 lambda _: TrainedLink(dataset, hidden, epochs))

elif source in ("synthetic", "demo"):
    kind = SyntheticLink if source == "synthetic" else DemoLink
    generators = list(kind.generators)
    generator = st.selectbox("Generator" if source == "synthetic" else "Demo", generators,
                             key=f"{source}-generator", persist_state="session",
                             index=generators.index(link.generator) if isinstance(link, kind)
                             and link.generator in generators else 0)
    description = st.empty()  # filled once the parameters are read: it names their values
    linked = dict(link.params) if isinstance(link, kind) and link.generator == generator else {}
    params = {}
    columns = st.columns(4)
    for i, (name, default) in enumerate(synthetic_defaults(generator).items()):
        start = linked.get(name, default)
        widget_key = f"synthetic-{generator}-{name}"
        with columns[i % 4]:
            if name in PARAMETER_CHOICES:
                choices = PARAMETER_CHOICES[name]
                params[name] = st.selectbox(name, choices, index=choices.index(start) if start in choices else 0,
                                            key=widget_key, persist_state="session")
            elif parameter_kind(default) == "integer":
                params[name] = int(st.number_input(name, value=start, step=1, key=widget_key, persist_state="session"))
            elif parameter_kind(default) == "number":
                params[name] = float(st.number_input(name, value=start, format="%g", key=widget_key,
                                                     persist_state="session"))
            else:
                text = st.text_input(name, value="" if start is None else str(start), key=widget_key,
                                     help=f"empty: default ({default!r})", persist_state="session")
                params[name] = parse_option_text(text, default)
    description.markdown(doc_description(kind.generators[generator], params))
    if st.button("Generate" if source == "synthetic" else "Load the demo", type="primary", key=f"load-{source}"):
        try_load(lambda: synthetic_problem(generator, params), generator, lambda _: kind.of(generator, params))

else:
    st.markdown(f"A as `{', '.join(SUPPORTED_EXTENSIONS)}` (a .npz may hold arrays `A` and `W`); W "
                f"optional (default all ones); at most {UPLOAD_LIMIT}. Files are never unpickled.  \n"
                f"{WEIGHTS_HELP}")
    upload_a = st.file_uploader("Matrix A", type=UPLOAD_TYPES, key="upload-A", max_upload_size=UPLOAD_MB,
                                help=f"At most {UPLOAD_LIMIT}.")
    upload_w = st.file_uploader("Weights W (optional)", type=UPLOAD_TYPES, key="upload-W", max_upload_size=UPLOAD_MB,
                                help=f"At most {UPLOAD_LIMIT}.")

    def load_upload() -> Problem:
        """The uploaded problem; says which of a saved problem's extras were dropped."""
        problem = load_problem(upload_a, weights=upload_w)
        for warning in problem.meta.get("load_warnings", []):
            st.warning(warning)
        return problem

    if st.button("Load the uploaded files", type="primary", key="load-upload", disabled=upload_a is None):
        try_load(load_upload, "the upload", lambda problem: UploadLink(keep_upload(problem)))

st.divider()
problem = loaded_problem()
st.subheader("Current problem")
st.markdown(problem_summary(problem))
missing = weight_advice(problem).missing_line()
if missing:
    st.markdown(missing)
st.table([{"fact": label, "value": text} for label, text in info_lines(weight_facts(problem)[1])],
         hide_index=True, hide_header=True, width="content")
