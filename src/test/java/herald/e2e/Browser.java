package herald.e2e;

import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.fail;

/** A real headless Chromium driven by chromedriver (Debian's packages), with a throwaway profile. */
final class Browser implements AutoCloseable {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  final WebDriver driver;
  private final ChromeDriverService service;
  private final Path profile;

  private Browser(ChromeDriverService service, WebDriver driver, Path profile) {
    this.service = service;
    this.driver = driver;
    this.profile = profile;
  }

  static Browser start() throws Exception {
    for (Path p : List.of(CHROMIUM, CHROMEDRIVER)) {
      if (!Files.isExecutable(p)) {
        fail(p + " is missing: the console test needs Debian's chromium and chromium-driver "
            + "(apt-get install -y chromium chromium-driver; .ci/run installs them)");
      }
    }
    Path profile = Files.createTempDirectory("herald-chromium-");
    // The driver executable is given, so Selenium Manager never runs (it would try to download).
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(CHROMEDRIVER.toFile())
        .usingAnyFreePort()
        .build();
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--user-data-dir=" + profile, "--window-size=1280,1600");
    return new Browser(service, new ChromeDriver(service, options), profile);
  }

  WebDriverWait waiting(Duration timeout) {
    return new WebDriverWait(driver, timeout);
  }

  /** For a person to look at: target/NAME. */
  void screenshot(String name) throws Exception {
    Path shot = Path.of("target", name);
    Files.createDirectories(shot.getParent());
    Files.write(shot, ((ChromeDriver) driver).getScreenshotAs(OutputType.BYTES));
  }

  /** The text of the first match, or "" while there is none. */
  static String text(WebDriver d, String css) {
    List<WebElement> found = d.findElements(By.cssSelector(css));
    try {
      return found.isEmpty() ? "" : found.get(0).getText().trim();
    } catch (StaleElementReferenceException e) {
      return "";
    }
  }

  /** Clicks once the element is there; a refresh that replaced it in between is retried. */
  static void click(WebDriverWait wait, By by) {
    wait.ignoring(StaleElementReferenceException.class)
        .until((Function<WebDriver, Boolean>) d -> {
          List<WebElement> found = d.findElements(by);
          if (found.isEmpty() || !found.get(0).isDisplayed()) return false;
          found.get(0).click();
          return true;
        });
  }

  @Override
  public void close() throws Exception {
    driver.quit();
    service.stop();
    try (var files = Files.walk(profile)) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }
}
