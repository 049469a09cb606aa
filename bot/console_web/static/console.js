// The desk's small progressive enhancement: a form or button with data-confirm asks before it is sent.
// Everything works without it; no inline script anywhere (the Content-Security-Policy forbids it).
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = (event.submitter && event.submitter.dataset.confirm) || form.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
