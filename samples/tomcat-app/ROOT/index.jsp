<%@ page contentType="text/plain; charset=UTF-8" %><%-- compiled by Jasper (ECJ) at run time: the lifted image needs the compiler's jar --%>
hello from <%= application.getServerInfo() %> on <%= System.getProperty("java.vendor") %> <%= System.getProperty("java.specification.version") %>
sum=<%= 6 * 7 %> context=[<%= request.getContextPath() %>] base=<%= System.getProperty("catalina.base") %>
