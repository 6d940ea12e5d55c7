"""The try-it page in headless Chromium (Debian's chromium and chromedriver, driven by
selenium) against real ``rnnkit serve`` processes: a forecast is plotted and listed, a
generation streams into the page token by token."""

import shutil

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT = 60                 # seconds for the page to answer, on a busy machine


@pytest.fixture(scope="module")
def browser():
    for path in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(path), f"{path} is missing: apt-get install chromium " \
            "chromium-driver (.ci/run installs them)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1000,1200"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver, url):
    driver.get(url + "/")
    WebDriverWait(driver, WAIT).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")


def _set(driver, element_id, value):
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(str(value))


def test_a_forecast_is_plotted_and_listed(browser, live):
    url = live("forecaster")
    _open(browser, url)
    assert browser.find_element(By.ID, "forecast").is_displayed()
    assert not browser.find_element(By.ID, "generate").is_displayed()
    _set(browser, "forecast-steps", 6)
    browser.find_element(By.ID, "forecast-run").click()
    values = WebDriverWait(browser, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#forecast-values li") or None)
    want = httpx.post(f"{url}/forecast", json={"steps": 6}, timeout=60).json()
    target = want["targets"][0]
    assert [li.text for li in values] == [f"{v:.4f}" for v in want["forecast"][target]]
    canvas = browser.find_element(By.ID, "forecast-plot")
    assert canvas.get_attribute("data-forecast") == "6"
    assert canvas.get_attribute("data-history") == str(len(want["history"][target]))
    coloured = browser.execute_script("""
        const c = document.getElementById('forecast-plot');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
        return n;""")
    assert coloured > 500                      # two lines and the axes were drawn
    assert "forecast after" in browser.find_element(By.ID, "status").text


def test_a_forecast_with_an_interval_is_shaded_for_the_steps_it_reaches(browser, live):
    """A hybrid (horizon 3) gives quantiles from its errors: the page asks /forecast for the
    80 % band over the first 3 steps and shades it; a point forecaster shows none."""
    url = live("hybrid")
    _open(browser, url)
    _set(browser, "forecast-steps", 6)
    browser.find_element(By.ID, "forecast-run").click()
    WebDriverWait(browser, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#forecast-values li") or None)
    canvas = browser.find_element(By.ID, "forecast-plot")
    assert canvas.get_attribute("data-forecast") == "6"
    assert canvas.get_attribute("data-band") == "3"
    legend = browser.find_element(By.ID, "forecast-band")
    assert legend.is_displayed() and legend.text == "80 % interval (first 3 steps)"
    green = browser.execute_script("""
        const c = document.getElementById('forecast-plot');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < px.length; i += 4)
          if (px[i + 1] > px[i] + 20 && px[i + 1] > px[i + 2] && px[i + 3] > 0) n++;
        return n;""")
    assert green > 20                          # the band's fill is on the canvas
    _open(browser, live("forecaster"))
    _set(browser, "forecast-steps", 4)
    browser.find_element(By.ID, "forecast-run").click()
    WebDriverWait(browser, WAIT).until(
        lambda d: d.find_element(By.ID, "forecast-plot").get_attribute("data-forecast") == "4")
    assert browser.find_element(By.ID, "forecast-plot").get_attribute("data-band") == "0"
    assert not browser.find_element(By.ID, "forecast-band").is_displayed()


def test_a_generation_streams_into_the_page(browser, live):
    url = live("generator")
    _open(browser, url)
    _set(browser, "generate-prompt", "the ")
    _set(browser, "generate-length", 400)
    _set(browser, "generate-seed", 5)
    _set(browser, "generate-temperature", 0.7)
    # record the text's length at every change the page makes while the stream comes in
    browser.execute_script("""
        const el = document.getElementById('generate-output');
        window.seenLengths = [];
        new MutationObserver(() => window.seenLengths.push(el.textContent.length))
            .observe(el, {childList: true, characterData: true, subtree: true});""")
    browser.find_element(By.ID, "generate-run").click()
    output = browser.find_element(By.ID, "generate-output")
    WebDriverWait(browser, WAIT).until(lambda d: output.get_attribute("data-done") == "true")
    want = httpx.post(f"{url}/generate", json={"prompt": "the ", "length": 400, "seed": 5,
                                               "temperature": 0.7, "stream": False},
                      timeout=60).json()["text"]
    assert output.text.replace("\n", "") == want.replace("\n", "")
    lengths = browser.execute_script("return window.seenLengths;")
    assert lengths[-1] == len(want)
    assert len(set(lengths)) >= 3, lengths     # it grew in steps, not in one piece
    assert "400 tokens generated" in browser.find_element(By.ID, "status").text
